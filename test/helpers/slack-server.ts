/**
 * A local Slack for tests: the Web API, Socket Mode and response URLs on one loopback port, so the real,
 * unmodified Bolt app (and any `WebClient`) runs against it over the wire.
 *
 * - Web API: `POST <apiUrl><method>` (`apiUrl` is `http://127.0.0.1:<port>/api/`), form-encoded (what
 *   `@slack/web-api` sends: arrays and objects such as `blocks` or `view` as JSON strings), JSON or multipart.
 *   Token from `Authorization: Bearer …` or a `token` field: none → `not_authed`, unknown → `invalid_auth`,
 *   revoked → `token_revoked`, app token on a bot method (or the reverse) → `not_allowed_token_type`.
 *   Methods: auth.test, apps.connections.open, bots.info, chat.delete, chat.getPermalink, chat.postEphemeral,
 *   chat.postMessage, chat.update, conversations.history (newest first, `oldest`/`latest`/`inclusive`, cursor
 *   paging, message `metadata` with `include_all_metadata`), conversations.info, conversations.open, team.info,
 *   usergroups.users.list,
 *   users.info, users.lookupByEmail, views.publish; anything else → `unknown_method`. Blocks are checked for
 *   Slack's limits (50 per message, 100 per view, section text 3000, header 150, duplicate block_id/action_id,
 *   …) and answered with `invalid_blocks` / `invalid_arguments` plus `errors` and `[ERROR]` messages, as Slack does.
 *   Blocks without a `block_id` get one, as Slack assigns them.
 * - Socket Mode: `apps.connections.open` (app token) hands out a one-use `ws://…/socket?ticket=…` URL; on
 *   connect the server sends Slack's `hello`, pings every `pingIntervalMs`, answers the client's pings (`answerPings(false)` stops that), and
 *   delivers envelopes (`{envelope_id, payload, type, accepts_response_payload}`) round-robin over the open
 *   connections, resolving when the client sends back `{envelope_id, payload}`.
 * - response_url: `http://127.0.0.1:<port>/response/<id>`; POSTs are recorded in `responses`, and
 *   `replace_original` / `delete_original` act on the message a block action came from.
 *
 * Start Bolt apps with `clientOptions: { slackApiUrl: server.apiUrl }`, and stop them before the server: a
 * Socket Mode client that loses its server while running reconnects into a closed port.
 *
 * @example
 * const slack = await startSlackServer();
 * slack.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
 * const app = new App({ token: slack.botToken, appToken: slack.appToken, socketMode: true,
 *   clientOptions: { slackApiUrl: slack.apiUrl } });
 * app.command('/secbot', async ({ ack }) => ack('on it'));
 * await app.start();
 * const { payload } = await slack.sendSlashCommand({ command: '/secbot', user: 'U0ALICE', text: 'status' });
 * await app.stop();
 * await slack.stop();
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';

export type JsonObject = Record<string, unknown>;

/** One Web API request as the server received it. */
export interface ApiCall {
  method: string;
  /** The decoded arguments (JSON-valued form fields such as `blocks` parsed), without `token`. */
  params: JsonObject;
  token: string | undefined;
  /** `Date.now()` when the request arrived. */
  at: number;
  /** HTTP status of the answer, once sent (0 when an injected fault destroyed the socket). */
  status?: number;
  /** The `error` of an `{ ok: false }` answer, or `ratelimited` / `http_<status>` for injected HTTP faults. */
  error?: string;
}

export interface UserFixture {
  id: string;
  name: string;
  email?: string;
  real_name?: string;
  deleted?: boolean;
  is_bot?: boolean;
  /** IANA zone; default `America/Los_Angeles`. */
  tz?: string;
}

export interface ChannelFixture {
  id: string;
  name: string;
  is_im: boolean;
  is_mpim: boolean;
  is_private: boolean;
  /** Whether the bot may post here; `chat.postMessage` answers `not_in_channel` otherwise. */
  bot_is_member: boolean;
  /** The other member of a DM. */
  user?: string;
}

export interface MessageVersion {
  text?: string;
  blocks?: JsonObject[];
  attachments?: unknown;
  metadata?: unknown;
  at: number;
  via: 'chat.postMessage' | 'chat.update' | 'response_url';
}

/** A message in a channel; its top-level fields are those of the latest version. */
export interface StoredMessage {
  channel: string;
  ts: string;
  thread_ts?: string;
  /** The bot user that posted it. */
  user: string;
  bot_id: string;
  text?: string;
  blocks?: JsonObject[];
  attachments?: unknown;
  metadata?: unknown;
  deleted: boolean;
  /** Every version, oldest first; the last one is the current text/blocks. */
  versions: MessageVersion[];
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  text?: string;
  blocks?: JsonObject[];
  message_ts: string;
  at: number;
  via: 'chat.postEphemeral' | 'response_url';
}

/** A POST to a response_url handed out in a slash command or block action payload. */
export interface ResponseUrlPost {
  id: string;
  url: string;
  body: JsonObject;
  at: number;
  /** The envelope type that carried the response_url. */
  source: 'slash_commands' | 'block_actions';
  /** The message a block action was clicked on. */
  origin?: { channel: string; ts: string };
  /** The user who ran the command or clicked. */
  user: string;
  channel: string;
}

export interface Fault {
  /** HTTP status to answer with. 429 adds `Retry-After` (`retryAfterSeconds`, default 1). */
  status?: number;
  /** Answer HTTP 200 `{ ok: false, error }` (or this error in the body of a non-200 status). */
  error?: string;
  /** Implies status 429. */
  retryAfterSeconds?: number;
  /** How many consecutive calls the fault applies to; default 1. */
  times?: number;
  /** Wait this long before answering (alone: then answer normally), e.g. for client timeouts. */
  delayMs?: number;
  /** Destroy the TCP connection instead of answering (a network failure for the client). */
  destroySocket?: boolean;
}

/** The client's acknowledgement of an envelope. */
export interface SocketAck {
  envelope_id: string;
  /** What the app passed to `ack()` (`{}` for a bare `ack()`, `{ text }` for `ack('…')`). */
  payload?: JsonObject;
  /** Id of the Socket Mode connection that received and acked the envelope (1, 2, … in connect order). */
  connection: number;
}

export interface SendOptions {
  /** How long to wait for the ack; default `ackTimeoutMs` of the server (5000). */
  timeoutMs?: number;
  /** Merged over the built payload (shallowly) before sending. */
  overrides?: JsonObject;
}

export interface SlashCommandOptions extends SendOptions {
  command: string;
  /** User id of who ran the command. */
  user: string;
  text?: string;
  /** Channel id; default the user's DM with the app (opened if needed). */
  channel?: string;
}

export interface BlockActionOptions extends SendOptions {
  /** User id of who clicked. */
  user: string;
  action_id: string;
  /** Default: the element's `value`. */
  value?: string;
  /** Default: the block holding the element. */
  block_id?: string;
  /** A message this server holds (its latest version is sent): channel and ts. */
  channel?: string;
  message_ts?: string;
  /** Or a message this server does not hold (with `channel`). */
  message?: { ts: string; text?: string; blocks?: JsonObject[] };
  /** Click in the App Home view last published for `user` instead of a message. */
  home?: boolean;
}

export interface EventOptions extends SendOptions {
  /** `retry_attempt` / `retry_reason` of the envelope (Slack's redelivery of an unacked event). */
  retryAttempt?: number;
  retryReason?: string;
}

export interface SlackServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `http://127.0.0.1:<port>/api/`, for `clientOptions.slackApiUrl`. */
  apiUrl: string;
  port: number;
  /** Valid bot token (`xoxb-…`) and app-level token (`xapp-…`). */
  botToken: string;
  appToken: string;
  team: { id: string; name: string; domain: string };
  bot: { userId: string; botId: string; appId: string; name: string };
  /** Every Web API call, in arrival order (live array). */
  readonly calls: readonly ApiCall[];
  callsTo(method: string): ApiCall[];
  /** Messages in a channel, oldest first, without deleted ones. */
  messages(channel: string): StoredMessage[];
  message(channel: string, ts: string): StoredMessage | undefined;
  ephemeralMessages(channel?: string): EphemeralMessage[];
  /** The view last published to a user's App Home. */
  homeView(user: string): JsonObject | undefined;
  /** POSTs to response_urls (live array). */
  readonly responses: readonly ResponseUrlPost[];
  /** Forget recorded calls and responses (fixtures, messages and faults stay). */
  clearRecords(): void;

  addUser(user: UserFixture): void;
  addChannel(id: string, name: string, opts?: { is_private?: boolean; bot_is_member?: boolean }): void;
  addUserGroup(id: string, userIds: string[], handle?: string): void;
  /** The DM channel id between the app and a user (`D` + the user id without its first letter). */
  dmChannelId(user: string): string;
  /** Make a token answer `token_revoked` from now on. */
  revokeToken(token: string): void;

  /** Queue a fault for the next call(s) to `method` (`'*'`: any method; specific faults win). */
  failNext(method: string, fault: Fault): void;

  sendSlashCommand(opts: SlashCommandOptions): Promise<SocketAck>;
  sendBlockAction(opts: BlockActionOptions): Promise<SocketAck>;
  /** Delivers an `events_api` envelope wrapping `event` in an `event_callback`. */
  sendEvent(event: JsonObject, opts?: EventOptions): Promise<SocketAck>;
  /** Any envelope type (`interactive` with a view_submission, `slash_commands`, …). */
  sendEnvelope(
    type: string,
    payload: JsonObject,
    opts?: {
      timeoutMs?: number;
      acceptsResponsePayload?: boolean;
      retryAttempt?: number;
      retryReason?: string;
    },
  ): Promise<SocketAck>;

  /** Open Socket Mode connections (those that got `hello`). */
  readonly connections: number;
  waitForConnections(n: number, timeoutMs?: number): Promise<void>;
  /** Resolves with the first recorded call (past or future) to `method` matching `where`. */
  waitForCall(method: string, where?: (call: ApiCall) => boolean, timeoutMs?: number): Promise<ApiCall>;
  waitForResponse(where?: (r: ResponseUrlPost) => boolean, timeoutMs?: number): Promise<ResponseUrlPost>;
  waitForMessage(
    channel: string,
    where?: (m: StoredMessage) => boolean,
    timeoutMs?: number,
  ): Promise<StoredMessage>;
  /** Send Slack's `disconnect` message (clients close and reconnect); returns how many got it. */
  requestReconnect(reason?: 'refresh_requested' | 'warning' | 'link_disabled'): number;
  /** Cut every Socket Mode connection without a close handshake (a network failure). */
  dropConnections(): void;
  /** Stop (false) or resume (true) answering the client's pings with pongs; the client then drops the link. */
  answerPings(enabled: boolean): void;

  /** Close sockets and the HTTP server; reject envelopes still waiting for an ack. */
  stop(): Promise<void>;
}

export interface SlackServerOptions {
  /** Default 0 (a free port). */
  port?: number;
  /** Default 5000. */
  ackTimeoutMs?: number;
  /** Server pings on each Socket Mode connection; default 10000, 0 = never. */
  pingIntervalMs?: number;
}

const TEAM = { id: 'T0LOCAL01', name: 'Secbot Test', domain: 'secbot-test' };
const BOT = { userId: 'U0SECBOT1', botId: 'B0SECBOT1', appId: 'A0SECBOT1', name: 'secbot' };
const VERIFICATION_TOKEN = 'local-verification-token';
const MESSAGE_BLOCK_LIMIT = 50;
const VIEW_BLOCK_LIMIT = 100;
const TEXT_LIMIT = 40_000;
/** Fields that `@slack/web-api` JSON-encodes inside a form body. */
const JSON_FIELDS = ['blocks', 'attachments', 'view', 'metadata'];

type TokenKind = 'bot' | 'app';
type Answer = JsonObject & { ok: boolean };
type MethodFn = (params: JsonObject) => Answer;

interface Connection {
  id: number;
  ws: WebSocket;
}

interface PendingAck {
  what: string;
  connection: number;
  resolve: (ack: SocketAck) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface ResponseUrlInfo {
  source: ResponseUrlPost['source'];
  origin?: { channel: string; ts: string };
  user: string;
  channel: string;
}

const ok = (body: JsonObject = {}): Answer => ({ ok: true, ...body });
const fail = (error: string, extra: JsonObject = {}): Answer => ({ ok: false, error, ...extra });
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const truthy = (v: unknown): boolean => v === true || v === 'true' || v === '1' || v === 1;

export async function startSlackServer(opts: SlackServerOptions = {}): Promise<SlackServer> {
  const ackTimeoutMs = opts.ackTimeoutMs ?? 5000;
  const pingIntervalMs = opts.pingIntervalMs ?? 10_000;
  const suffix = randomBytes(12).toString('hex');
  const botToken = `xoxb-1000000001-2000000002-${suffix}`;
  const appToken = `xapp-1-${BOT.appId}-3000000003-${suffix}${suffix}`;
  const tokens = new Map<string, TokenKind>([
    [botToken, 'bot'],
    [appToken, 'app'],
  ]);
  const revoked = new Set<string>();

  const users = new Map<string, UserFixture>();
  const channels = new Map<string, ChannelFixture>();
  const userGroups = new Map<string, { id: string; handle: string; users: string[] }>();
  const messagesByChannel = new Map<string, StoredMessage[]>();
  const ephemerals: EphemeralMessage[] = [];
  const homeViews = new Map<string, JsonObject>();
  const calls: ApiCall[] = [];
  const responses: ResponseUrlPost[] = [];
  const responseUrls = new Map<string, ResponseUrlInfo>();
  const faults = new Map<string, { fault: Fault; remaining: number }[]>();
  const tickets = new Set<string>();
  const conns: Connection[] = [];
  const pending = new Map<string, PendingAck>();
  const sleeping = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  const changes = new EventEmitter();
  changes.setMaxListeners(0);
  let connSeq = 0;
  let roundRobin = 0;
  let lastTsMicros = 0;
  let stopped = false;
  let answeringPings = true;

  users.set(BOT.userId, { id: BOT.userId, name: BOT.name, is_bot: true, real_name: 'Secbot' });

  const changed = () => changes.emit('change');

  /** Slack-style unique, increasing message timestamps ("1712345678.000123"). */
  const nextTs = (): string => {
    lastTsMicros = Math.max(Date.now() * 1000, lastTsMicros + 1);
    return `${Math.floor(lastTsMicros / 1e6)}.${String(lastTsMicros % 1e6).padStart(6, '0')}`;
  };
  const tsOf = (ms: number) => `${Math.floor(ms / 1000)}.${String((ms % 1000) * 1000).padStart(6, '0')}`;
  const triggerId = () => `${Date.now()}.${1000000001}.${randomBytes(16).toString('hex')}`;
  const dmChannelId = (user: string) => `D${user.slice(1)}`;

  function openDm(user: string): ChannelFixture {
    const id = dmChannelId(user);
    let ch = channels.get(id);
    if (!ch) {
      ch = { id, name: user, is_im: true, is_mpim: false, is_private: true, bot_is_member: true, user };
      channels.set(id, ch);
    }
    return ch;
  }

  /** What chat.postMessage accepts as `channel`: an id, `#name`, or a user id (the app's DM with them). */
  function resolveChannel(raw: unknown): ChannelFixture | string {
    const id = str(raw);
    if (!id) return 'channel_not_found';
    if (id.startsWith('#')) {
      const byName = [...channels.values()].find((c) => c.name === id.slice(1));
      return byName ?? 'channel_not_found';
    }
    const known = channels.get(id);
    if (known) return known;
    const user = users.get(id);
    if (user) return user.deleted ? 'user_disabled' : openDm(user.id);
    return 'channel_not_found';
  }

  // ---------------------------------------------------------------- blocks

  function textLength(obj: unknown): number {
    return isObject(obj) && typeof obj.text === 'string' ? obj.text.length : 0;
  }

  /** Parses and checks blocks; assigns missing block_ids. Returns the blocks or Slack's error answer. */
  function checkBlocks(
    raw: unknown,
    limit: number,
    pointer: string,
    errorCode: string,
  ): JsonObject[] | Answer {
    let value = raw;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch {
        return fail(errorCode === 'invalid_blocks' ? 'invalid_blocks_format' : errorCode);
      }
    }
    if (!Array.isArray(value))
      return fail(errorCode === 'invalid_blocks' ? 'invalid_blocks_format' : errorCode);
    const errors: string[] = [];
    const at = (path: string) => `[json-pointer:${pointer}${path}]`;
    if (value.length > limit) errors.push(`no more than ${limit} items allowed ${at('')}`);
    const blockIds = new Set<string>();
    const blocks: JsonObject[] = [];
    value.forEach((b: unknown, i: number) => {
      if (!isObject(b) || typeof b.type !== 'string' || b.type === '') {
        errors.push(`missing required field: type ${at(`/${i}`)}`);
        return;
      }
      const block: JsonObject = { ...b };
      if (block.block_id === undefined) block.block_id = randomBytes(3).toString('base64url');
      const blockId = String(block.block_id);
      if (blockId.length > 255) errors.push(`must be less than 256 characters ${at(`/${i}/block_id`)}`);
      if (blockIds.has(blockId)) errors.push(`duplicate block_id ${at(`/${i}/block_id`)}`);
      blockIds.add(blockId);
      checkBlock(block, `/${i}`, at, errors);
      blocks.push(block);
    });
    if (errors.length > 0) {
      return fail(errorCode, { errors, response_metadata: { messages: errors.map((e) => `[ERROR] ${e}`) } });
    }
    return blocks;
  }

  function checkTextObject(
    t: unknown,
    path: string,
    at: (p: string) => string,
    errors: string[],
    max: number,
  ) {
    if (!isObject(t)) return;
    if (t.type !== 'plain_text' && t.type !== 'mrkdwn')
      errors.push(`must be a valid enum value ${at(`${path}/type`)}`);
    if (textLength(t) > max) errors.push(`must be less than ${max + 1} characters ${at(`${path}/text`)}`);
    if (typeof t.text !== 'string' || t.text === '')
      errors.push(`must be more than 0 characters ${at(`${path}/text`)}`);
  }

  function checkElement(el: unknown, path: string, at: (p: string) => string, errors: string[]) {
    if (!isObject(el)) return;
    if (typeof el.action_id === 'string' && el.action_id.length > 255) {
      errors.push(`must be less than 256 characters ${at(`${path}/action_id`)}`);
    }
    if (el.type === 'button') {
      checkTextObject(el.text, `${path}/text`, at, errors, 75);
      if (typeof el.value === 'string' && el.value.length > 2000) {
        errors.push(`must be less than 2001 characters ${at(`${path}/value`)}`);
      }
    }
  }

  function checkBlock(block: JsonObject, path: string, at: (p: string) => string, errors: string[]) {
    switch (block.type) {
      case 'section': {
        const fields = Array.isArray(block.fields) ? block.fields : undefined;
        if (block.text === undefined && !fields)
          errors.push(`must provide either text or fields ${at(path)}`);
        if (block.text !== undefined) checkTextObject(block.text, `${path}/text`, at, errors, 3000);
        if (fields) {
          if (fields.length > 10) errors.push(`no more than 10 items allowed ${at(`${path}/fields`)}`);
          fields.forEach((f, j) => {
            checkTextObject(f, `${path}/fields/${j}`, at, errors, 2000);
          });
        }
        if (block.accessory !== undefined) checkElement(block.accessory, `${path}/accessory`, at, errors);
        break;
      }
      case 'header':
        if (!isObject(block.text) || block.text.type !== 'plain_text') {
          errors.push(`must be a plain_text text object ${at(`${path}/text`)}`);
        } else checkTextObject(block.text, `${path}/text`, at, errors, 150);
        break;
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0) {
          errors.push(`must provide at least 1 item ${at(`${path}/elements`)}`);
        } else if (block.elements.length > 10)
          errors.push(`no more than 10 items allowed ${at(`${path}/elements`)}`);
        break;
      case 'actions': {
        if (!Array.isArray(block.elements) || block.elements.length === 0) {
          errors.push(`must provide at least 1 item ${at(`${path}/elements`)}`);
          break;
        }
        if (block.elements.length > 25)
          errors.push(`no more than 25 items allowed ${at(`${path}/elements`)}`);
        const actionIds = new Set<string>();
        block.elements.forEach((el, j) => {
          checkElement(el, `${path}/elements/${j}`, at, errors);
          const id = isObject(el) ? el.action_id : undefined;
          if (typeof id === 'string') {
            if (actionIds.has(id))
              errors.push(`duplicate action_id ${at(`${path}/elements/${j}/action_id`)}`);
            actionIds.add(id);
          }
        });
        break;
      }
      default:
        break;
    }
  }

  /** Finds the interactive element with `actionId` in blocks: [block, element]. */
  function findElement(
    blocks: JsonObject[] | undefined,
    actionId: string,
  ): [JsonObject, JsonObject] | undefined {
    for (const block of blocks ?? []) {
      const candidates = [
        ...(Array.isArray(block.elements) ? block.elements : []),
        block.accessory,
        block.element,
      ].filter(isObject);
      const el = candidates.find((e) => e.action_id === actionId);
      if (el) return [block, el];
    }
    return undefined;
  }

  // ---------------------------------------------------------------- messages

  function botMessage(m: StoredMessage): JsonObject {
    return {
      user: m.user,
      type: 'message',
      ts: m.ts,
      bot_id: m.bot_id,
      app_id: BOT.appId,
      text: m.text ?? '',
      team: TEAM.id,
      bot_profile: { id: BOT.botId, app_id: BOT.appId, name: BOT.name, deleted: false, team_id: TEAM.id },
      ...(m.blocks ? { blocks: m.blocks } : {}),
      ...(m.attachments ? { attachments: m.attachments } : {}),
      ...(m.thread_ts ? { thread_ts: m.thread_ts, parent_user_id: m.user } : {}),
      ...(m.versions.length > 1
        ? { edited: { user: m.user, ts: tsOf(m.versions.at(-1)?.at ?? Date.now()) } }
        : {}),
    };
  }

  /** A message ts ("1712345678.000123", or "1712345678") in a form that sorts as text. */
  function sortableTs(ts: string): string {
    const [secs = '0', micros = ''] = ts.split('.');
    return `${secs.padStart(12, '0')}.${micros.padEnd(6, '0').slice(0, 6)}`;
  }

  function findMessage(channel: string, ts: string): StoredMessage | undefined {
    return messagesByChannel.get(channel)?.find((m) => m.ts === ts);
  }

  /** text / blocks / attachments of chat.postMessage, chat.update and response_url bodies. */
  function messageContent(
    params: JsonObject,
    requireContent: boolean,
  ): { text?: string; blocks?: JsonObject[]; attachments?: unknown } | Answer {
    const text = typeof params.text === 'string' ? params.text : undefined;
    let blocks: JsonObject[] | undefined;
    if (params.blocks !== undefined && params.blocks !== '') {
      const checked = checkBlocks(params.blocks, MESSAGE_BLOCK_LIMIT, '/blocks', 'invalid_blocks');
      if (!Array.isArray(checked)) return checked;
      blocks = checked;
    }
    const attachments = params.attachments;
    if (requireContent && !text && !blocks?.length && attachments === undefined) return fail('no_text');
    if (text && text.length > TEXT_LIMIT) return fail('msg_too_long');
    return { text, blocks, attachments };
  }

  function isAnswer(v: unknown): v is Answer {
    return isObject(v) && typeof v.ok === 'boolean';
  }

  // ---------------------------------------------------------------- users

  function tzInfo(tz: string): { tz_label: string; tz_offset: number } {
    const part = (style: 'long' | 'longOffset') =>
      new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: style })
        .formatToParts(new Date())
        .find((p) => p.type === 'timeZoneName')?.value ?? '';
    const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part('longOffset'));
    const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
    return { tz_label: part('long'), tz_offset: offset };
  }

  function userObject(u: UserFixture): JsonObject {
    const tz = u.tz ?? 'America/Los_Angeles';
    const realName = u.real_name ?? u.name;
    return {
      id: u.id,
      team_id: TEAM.id,
      name: u.name,
      deleted: u.deleted ?? false,
      real_name: realName,
      tz,
      ...tzInfo(tz),
      profile: {
        real_name: realName,
        display_name: u.name,
        team: TEAM.id,
        ...(u.email ? { email: u.email } : {}),
        ...(u.id === BOT.userId ? { bot_id: BOT.botId, api_app_id: BOT.appId } : {}),
      },
      is_admin: false,
      is_owner: false,
      is_primary_owner: false,
      is_restricted: false,
      is_ultra_restricted: false,
      is_bot: u.is_bot ?? false,
      is_app_user: false,
      updated: 1700000000,
    };
  }

  function channelObject(c: ChannelFixture): JsonObject {
    return {
      id: c.id,
      ...(c.is_im
        ? { user: c.user, is_im: true }
        : { name: c.name, is_channel: !c.is_private, is_im: false }),
      is_group: c.is_private && !c.is_im && !c.is_mpim,
      is_mpim: c.is_mpim,
      is_private: c.is_private,
      is_archived: false,
      is_member: c.bot_is_member,
      created: 1700000000,
      context_team_id: TEAM.id,
    };
  }

  // ---------------------------------------------------------------- Web API methods

  const botMethods: Record<string, MethodFn> = {
    'auth.test': () =>
      ok({
        url: `https://${TEAM.domain}.slack.com/`,
        team: TEAM.name,
        user: BOT.name,
        team_id: TEAM.id,
        user_id: BOT.userId,
        bot_id: BOT.botId,
        is_enterprise_install: false,
      }),

    'team.info': () =>
      ok({
        team: {
          id: TEAM.id,
          name: TEAM.name,
          url: `https://${TEAM.domain}.slack.com/`,
          domain: TEAM.domain,
          email_domain: '',
          icon: { image_default: true },
          is_verified: false,
        },
      }),

    'bots.info': (p) =>
      str(p.bot) === BOT.botId
        ? ok({
            bot: {
              id: BOT.botId,
              deleted: false,
              name: BOT.name,
              updated: 1700000000,
              app_id: BOT.appId,
              user_id: BOT.userId,
              icons: {},
            },
          })
        : fail('bot_not_found'),

    'users.info': (p) => {
      const u = users.get(str(p.user) ?? '');
      return u ? ok({ user: userObject(u) }) : fail('user_not_found');
    },

    'users.lookupByEmail': (p) => {
      const email = str(p.email)?.toLowerCase();
      if (!email) return fail('invalid_arguments');
      // Slack does not return deactivated users here.
      const u = [...users.values()].find((x) => x.email?.toLowerCase() === email && !x.deleted);
      return u ? ok({ user: userObject(u) }) : fail('users_not_found');
    },

    'usergroups.users.list': (p) => {
      const g = userGroups.get(str(p.usergroup) ?? '');
      return g ? ok({ users: [...g.users] }) : fail('no_such_subteam');
    },

    'conversations.open': (p) => {
      const existing = str(p.channel);
      if (existing) {
        const ch = channels.get(existing);
        return ch
          ? ok({ no_op: true, already_open: true, channel: { id: ch.id } })
          : fail('channel_not_found');
      }
      const ids = (str(p.users) ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (ids.length === 0) return fail('users_list_not_supplied');
      if (ids.length > 8) return fail('too_many_users');
      for (const id of ids) {
        const u = users.get(id);
        if (!u) return fail('user_not_found');
        if (u.deleted) return fail('user_disabled');
      }
      const [first] = ids;
      if (ids.length === 1 && first) {
        const already = channels.has(dmChannelId(first));
        const ch = openDm(first);
        return ok({ ...(already ? { no_op: true, already_open: true } : {}), channel: { id: ch.id } });
      }
      const sorted = [...ids].sort();
      const id = `G${Buffer.from(sorted.join(',')).toString('hex').slice(0, 10).toUpperCase()}`;
      const already = channels.has(id);
      if (!already) {
        const name = `mpdm-${sorted.map((u) => users.get(u)?.name).join('--')}-1`;
        channels.set(id, { id, name, is_im: false, is_mpim: true, is_private: true, bot_is_member: true });
      }
      return ok({ ...(already ? { no_op: true, already_open: true } : {}), channel: { id } });
    },

    'conversations.info': (p) => {
      const ch = channels.get(str(p.channel) ?? '');
      return ch ? ok({ channel: channelObject(ch) }) : fail('channel_not_found');
    },

    'chat.postMessage': (p) => {
      const ch = resolveChannel(p.channel);
      if (typeof ch === 'string') return fail(ch);
      if (!ch.bot_is_member) return fail('not_in_channel');
      const content = messageContent(p, true);
      if (isAnswer(content)) return content;
      const ts = nextTs();
      const threadTs = str(p.thread_ts);
      const msg: StoredMessage = {
        channel: ch.id,
        ts,
        ...(threadTs ? { thread_ts: threadTs } : {}),
        user: BOT.userId,
        bot_id: BOT.botId,
        text: content.text,
        blocks: content.blocks,
        attachments: content.attachments,
        metadata: p.metadata,
        deleted: false,
        versions: [],
      };
      msg.versions.push({
        text: content.text,
        blocks: content.blocks,
        attachments: content.attachments,
        metadata: p.metadata,
        at: Date.now(),
        via: 'chat.postMessage',
      });
      const list = messagesByChannel.get(ch.id) ?? [];
      list.push(msg);
      messagesByChannel.set(ch.id, list);
      return ok({ channel: ch.id, ts, message: botMessage(msg) });
    },

    // Needs channels:history / groups:history / im:history / mpim:history (scopes are not modelled here;
    // `failNext('conversations.history', { error: 'missing_scope' })` stands for a missing one).
    'conversations.history': (p) => {
      const id = str(p.channel);
      const ch = id ? channels.get(id) : undefined;
      if (!id || !ch) return fail('channel_not_found');
      if (!ch.bot_is_member) return fail('not_in_channel');
      const limit = Math.min(999, Math.max(1, Math.floor(Number(p.limit ?? 100)) || 100));
      const inclusive = truthy(p.inclusive);
      const oldest = str(p.oldest) ? sortableTs(String(p.oldest)) : undefined;
      const latest = str(p.latest) ? sortableTs(String(p.latest)) : undefined;
      let before: string | undefined; // from the cursor: the ts of the next (older) message to return
      const cursor = str(p.cursor);
      if (cursor) {
        const m = /^next_ts:(\d+\.\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
        if (!m?.[1]) return fail('invalid_cursor');
        before = sortableTs(m[1]);
      }
      // Newest first; thread replies are not part of a channel's history.
      const matching = (messagesByChannel.get(id) ?? [])
        .filter((m) => !m.deleted && (!m.thread_ts || m.thread_ts === m.ts))
        .filter((m) => {
          const t = sortableTs(m.ts);
          if (oldest !== undefined && (inclusive ? t < oldest : t <= oldest)) return false;
          if (latest !== undefined && (inclusive ? t > latest : t >= latest)) return false;
          return before === undefined || t <= before;
        })
        .reverse();
      const page = matching.slice(0, limit);
      const next = matching[limit];
      const withMetadata = truthy(p.include_all_metadata);
      return ok({
        messages: page.map((m) => ({
          ...botMessage(m),
          ...(withMetadata && isObject(m.metadata) ? { metadata: m.metadata } : {}),
        })),
        has_more: next !== undefined,
        pin_count: 0,
        channel_actions_ts: null,
        channel_actions_count: 0,
        ...(next
          ? { response_metadata: { next_cursor: Buffer.from(`next_ts:${next.ts}`).toString('base64') } }
          : {}),
      });
    },

    'chat.update': (p) => {
      const channel = str(p.channel);
      if (!channel || !channels.has(channel)) return fail('channel_not_found');
      const msg = findMessage(channel, str(p.ts) ?? '');
      if (!msg || msg.deleted) return fail('message_not_found');
      if (msg.user !== BOT.userId) return fail('cant_update_message');
      const content = messageContent(p, true);
      if (isAnswer(content)) return content;
      updateMessage(msg, content, p.metadata, 'chat.update');
      return ok({ channel, ts: msg.ts, text: msg.text ?? '', message: botMessage(msg) });
    },

    'chat.delete': (p) => {
      const channel = str(p.channel);
      if (!channel || !channels.has(channel)) return fail('channel_not_found');
      const msg = findMessage(channel, str(p.ts) ?? '');
      if (!msg || msg.deleted) return fail('message_not_found');
      msg.deleted = true;
      return ok({ channel, ts: msg.ts });
    },

    'chat.postEphemeral': (p) => {
      const ch = resolveChannel(p.channel);
      if (typeof ch === 'string') return fail(ch);
      const user = users.get(str(p.user) ?? '');
      if (!user) return fail('user_not_found');
      const content = messageContent(p, true);
      if (isAnswer(content)) return content;
      const messageTs = nextTs();
      ephemerals.push({
        channel: ch.id,
        user: user.id,
        text: content.text,
        blocks: content.blocks,
        message_ts: messageTs,
        at: Date.now(),
        via: 'chat.postEphemeral',
      });
      return ok({ message_ts: messageTs });
    },

    'chat.getPermalink': (p) => {
      const channel = str(p.channel);
      if (!channel || !channels.has(channel)) return fail('channel_not_found');
      const msg = findMessage(channel, str(p.message_ts) ?? '');
      if (!msg) return fail('message_not_found');
      const base = `https://${TEAM.domain}.slack.com/archives/${channel}/p${msg.ts.replace('.', '')}`;
      const permalink = msg.thread_ts ? `${base}?thread_ts=${msg.thread_ts}&cid=${channel}` : base;
      return ok({ channel, permalink });
    },

    'views.publish': (p) => {
      const userId = str(p.user_id);
      if (!userId) return fail('invalid_arguments');
      if (!users.has(userId)) return fail('user_not_found');
      let view = p.view;
      if (typeof view === 'string') {
        try {
          view = JSON.parse(view);
        } catch {
          return fail('invalid_arguments');
        }
      }
      if (!isObject(view) || view.type !== 'home') {
        const msg = 'must be a valid enum value [json-pointer:/view/type]';
        return fail('invalid_arguments', { response_metadata: { messages: [`[ERROR] ${msg}`] } });
      }
      const blocks = checkBlocks(view.blocks ?? [], VIEW_BLOCK_LIMIT, '/view/blocks', 'invalid_arguments');
      if (!Array.isArray(blocks)) return blocks;
      const previous = homeViews.get(userId);
      const hash = str(p.hash);
      if (hash && previous && previous.hash !== hash) return fail('hash_conflict');
      const published: JsonObject = {
        ...view,
        id: previous?.id ?? `V${randomBytes(5).toString('hex').toUpperCase()}`,
        team_id: TEAM.id,
        blocks,
        hash: `${Math.floor(Date.now() / 1000)}.${randomBytes(4).toString('hex')}`,
        app_id: BOT.appId,
        bot_id: BOT.botId,
        private_metadata: view.private_metadata ?? '',
        callback_id: view.callback_id ?? '',
        state: { values: {} },
      };
      homeViews.set(userId, published);
      return ok({ view: published });
    },
  };

  const appMethods: Record<string, MethodFn> = {
    'apps.connections.open': () => {
      const ticket = randomUUID();
      tickets.add(ticket);
      return ok({ url: `ws://127.0.0.1:${port}/socket?ticket=${ticket}&app_id=${BOT.appId}` });
    },
  };

  function updateMessage(
    msg: StoredMessage,
    content: { text?: string; blocks?: JsonObject[]; attachments?: unknown },
    metadata: unknown,
    via: MessageVersion['via'],
  ) {
    msg.text = content.text;
    msg.blocks = content.blocks;
    msg.attachments = content.attachments;
    if (metadata !== undefined) msg.metadata = metadata;
    msg.versions.push({ ...content, metadata: msg.metadata, at: Date.now(), via });
  }

  // ---------------------------------------------------------------- HTTP

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          sleeping.delete(entry);
          resolve();
        }, ms),
        wake: () => {
          clearTimeout(entry.timer);
          sleeping.delete(entry);
          resolve();
        },
      };
      sleeping.add(entry);
    });
  }

  function takeFault(method: string): Fault | undefined {
    for (const key of [method, '*']) {
      const queue = faults.get(key);
      const head = queue?.[0];
      if (!queue || !head) continue;
      head.remaining -= 1;
      if (head.remaining <= 0) queue.shift();
      return head.fault;
    }
    return undefined;
  }

  function send(res: ServerResponse, status: number, body: JsonObject | string, headers: JsonObject = {}) {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8';
    res.writeHead(status, { 'content-type': type, ...(headers as Record<string, string>) });
    res.end(text);
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function parseParams(req: IncomingMessage, url: URL, body: Buffer): Promise<JsonObject | undefined> {
    const params: JsonObject = Object.fromEntries(url.searchParams);
    if (body.length === 0) return params;
    const contentType = req.headers['content-type'] ?? '';
    const mediaType = contentType.split(';')[0]?.trim().toLowerCase();
    if (mediaType === 'application/json') {
      try {
        const parsed: unknown = JSON.parse(body.toString('utf8'));
        if (!isObject(parsed)) return undefined;
        return Object.assign(params, parsed);
      } catch {
        return undefined;
      }
    }
    if (mediaType === 'multipart/form-data') {
      const form = await new Response(new Uint8Array(body), {
        headers: { 'content-type': contentType },
      }).formData();
      for (const [k, v] of form) params[k] = typeof v === 'string' ? v : `[file ${v.name}]`;
    } else {
      Object.assign(params, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    }
    for (const key of JSON_FIELDS) {
      const v = params[key];
      if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
        try {
          params[key] = JSON.parse(v);
        } catch {
          // Left as a string: the method answers with its own format error.
        }
      }
    }
    return params;
  }

  async function handleApi(method: string, req: IncomingMessage, url: URL, res: ServerResponse) {
    const parsed = await parseParams(req, url, await readBody(req));
    const { token: bodyToken, ...params } = parsed ?? {};
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : str(bodyToken);
    const call: ApiCall = { method, params, token, at: Date.now() };
    calls.push(call);
    changed();
    const answer = (status: number, payload: JsonObject | string, headers: JsonObject = {}) => {
      call.status = status;
      if (isObject(payload) && payload.ok === false) call.error = String(payload.error);
      else if (status !== 200) call.error = status === 429 ? 'ratelimited' : `http_${status}`;
      send(res, status, payload, headers);
      changed();
    };

    const fault = takeFault(method);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (stopped) {
      req.socket.destroy();
      return;
    }
    if (fault?.destroySocket) {
      call.status = 0;
      call.error = 'socket_destroyed';
      req.socket.destroy();
      changed();
      return;
    }
    if (fault && (fault.status === 429 || fault.retryAfterSeconds !== undefined)) {
      answer(429, fail(fault.error ?? 'ratelimited'), {
        'retry-after': String(fault.retryAfterSeconds ?? 1),
      });
      return;
    }
    if (fault?.status !== undefined && fault.status !== 200) {
      answer(fault.status, fail(fault.error ?? 'fatal_error'));
      return;
    }
    if (fault?.error) {
      answer(200, fail(fault.error));
      return;
    }

    if (!parsed) {
      answer(200, fail('invalid_json'));
      return;
    }
    const fn = botMethods[method] ?? appMethods[method];
    if (!fn) {
      answer(200, fail('unknown_method', { req_method: method }));
      return;
    }
    if (!token) {
      answer(200, fail('not_authed'));
      return;
    }
    if (revoked.has(token)) {
      answer(200, fail('token_revoked'));
      return;
    }
    const kind = tokens.get(token);
    if (!kind) {
      answer(200, fail('invalid_auth'));
      return;
    }
    const allowed = kind === 'app' ? appMethods[method] : botMethods[method];
    if (!allowed) {
      answer(200, fail('not_allowed_token_type'));
      return;
    }
    const result = allowed(params);
    answer(200, result);
  }

  async function handleResponseUrl(id: string, req: IncomingMessage, res: ServerResponse) {
    const info = responseUrls.get(id);
    const raw = await readBody(req);
    if (!info) {
      send(res, 404, fail('invalid_response_url'));
      return;
    }
    let body: JsonObject;
    try {
      const parsed: unknown = JSON.parse(raw.toString('utf8') || '{}');
      if (!isObject(parsed)) throw new Error('not an object');
      body = parsed;
    } catch {
      send(res, 400, fail('invalid_json'));
      return;
    }
    const content = messageContent(body, !truthy(body.delete_original));
    if (isAnswer(content)) {
      send(res, 400, content);
      return;
    }
    const origin = info.origin ? findMessage(info.origin.channel, info.origin.ts) : undefined;
    if (origin && truthy(body.delete_original)) origin.deleted = true;
    else if (origin && truthy(body.replace_original))
      updateMessage(origin, content, undefined, 'response_url');
    else if (body.response_type !== 'in_channel') {
      ephemerals.push({
        channel: info.channel,
        user: info.user,
        text: content.text,
        blocks: content.blocks,
        message_ts: nextTs(),
        at: Date.now(),
        via: 'response_url',
      });
    }
    responses.push({ id, url: `${baseUrl}/response/${id}`, body, at: Date.now(), ...info });
    send(res, 200, ok());
    changed();
  }

  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const done = (p: Promise<void>) =>
      p.catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, `local slack server error: ${String(err)}`);
        else res.destroy();
      });
    if (url.pathname.startsWith('/api/')) {
      done(handleApi(decodeURIComponent(url.pathname.slice('/api/'.length)), req, url, res));
    } else if (url.pathname.startsWith('/response/') && req.method === 'POST') {
      done(handleResponseUrl(url.pathname.slice('/response/'.length), req, res));
    } else {
      req.resume();
      send(res, 404, 'not found');
    }
  });

  // ---------------------------------------------------------------- Socket Mode

  // Pongs are answered by hand so tests can stop answering them (`answerPings(false)`).
  const wss = new WebSocketServer({ noServer: true, autoPong: false });

  http.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ticket = url.searchParams.get('ticket') ?? '';
    // Tickets are single-use, like Slack's: a reconnect must call apps.connections.open again.
    if (stopped || url.pathname !== '/socket' || !tickets.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });

  function onConnection(ws: WebSocket) {
    const conn: Connection = { id: ++connSeq, ws };
    conns.push(conn);
    ws.on('error', () => {});
    ws.on('ping', (data: Buffer) => {
      if (answeringPings) ws.pong(data);
    });
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (!isObject(msg) || typeof msg.envelope_id !== 'string') return;
      const p = pending.get(msg.envelope_id);
      if (!p) return;
      pending.delete(msg.envelope_id);
      clearTimeout(p.timer);
      p.resolve({
        envelope_id: msg.envelope_id,
        ...(isObject(msg.payload) ? { payload: msg.payload } : {}),
        connection: conn.id,
      });
    });
    ws.on('close', () => {
      const i = conns.indexOf(conn);
      if (i >= 0) conns.splice(i, 1);
      for (const [id, p] of pending) {
        if (p.connection !== conn.id) continue;
        pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new Error(`${p.what} was not acked: Socket Mode connection ${conn.id} closed`));
      }
      changed();
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: conns.length,
        debug_info: {
          host: `applink-local-${conn.id}`,
          build_number: 1,
          approximate_connection_time: 18060,
        },
        connection_info: { app_id: BOT.appId },
      }),
    );
    changed();
  }

  const pinger =
    pingIntervalMs > 0
      ? setInterval(() => {
          for (const c of conns)
            if (c.ws.readyState === c.ws.OPEN) c.ws.ping(`ping from local slack ${Date.now()}`);
        }, pingIntervalMs)
      : undefined;
  pinger?.unref();

  function sendEnvelope(
    type: string,
    payload: JsonObject,
    o: {
      timeoutMs?: number;
      acceptsResponsePayload?: boolean;
      retryAttempt?: number;
      retryReason?: string;
    } = {},
    what = `${type} envelope`,
  ): Promise<SocketAck> {
    const open = conns.filter((c) => c.ws.readyState === c.ws.OPEN);
    if (open.length === 0)
      return Promise.reject(new Error(`${what} not delivered: no Socket Mode connection`));
    const conn = open[roundRobin++ % open.length] as Connection;
    const envelopeId = randomUUID();
    const envelope: JsonObject = {
      envelope_id: envelopeId,
      payload,
      type,
      accepts_response_payload: o.acceptsResponsePayload ?? false,
      ...(type === 'events_api'
        ? { retry_attempt: o.retryAttempt ?? 0, retry_reason: o.retryReason ?? '' }
        : {}),
    };
    const timeoutMs = o.timeoutMs ?? ackTimeoutMs;
    return new Promise<SocketAck>((resolve, reject) => {
      const timer = setTimeout(() => {
        pending.delete(envelopeId);
        reject(new Error(`${what} was not acked within ${timeoutMs} ms (connection ${conn.id})`));
      }, timeoutMs);
      pending.set(envelopeId, { what, connection: conn.id, resolve, reject, timer });
      conn.ws.send(JSON.stringify(envelope));
    });
  }

  function userName(id: string): string {
    return users.get(id)?.name ?? id.toLowerCase();
  }

  function newResponseUrl(info: ResponseUrlInfo): string {
    const id = `${TEAM.id}/${randomBytes(4).toString('hex')}/${randomBytes(12).toString('hex')}`;
    responseUrls.set(id, info);
    return `${baseUrl}/response/${id}`;
  }

  function sendSlashCommand(o: SlashCommandOptions): Promise<SocketAck> {
    const channel = o.channel ? channels.get(o.channel) : openDm(o.user);
    const channelId = o.channel ?? channel?.id ?? dmChannelId(o.user);
    const payload: JsonObject = {
      token: VERIFICATION_TOKEN,
      team_id: TEAM.id,
      team_domain: TEAM.domain,
      channel_id: channelId,
      channel_name: channel?.is_im ? 'directmessage' : (channel?.name ?? 'unknown'),
      user_id: o.user,
      user_name: userName(o.user),
      command: o.command,
      text: o.text ?? '',
      api_app_id: BOT.appId,
      is_enterprise_install: 'false',
      response_url: newResponseUrl({ source: 'slash_commands', user: o.user, channel: channelId }),
      trigger_id: triggerId(),
      ...o.overrides,
    };
    const what = `slash command ${o.command} ${o.text ?? ''}`.trim();
    return sendEnvelope(
      'slash_commands',
      payload,
      { timeoutMs: o.timeoutMs, acceptsResponsePayload: true },
      what,
    );
  }

  function sendBlockAction(o: BlockActionOptions): Promise<SocketAck> {
    const what = `block action ${o.action_id}`;
    const actionTs = nextTs();
    let blocks: JsonObject[] | undefined;
    let container: JsonObject;
    const extra: JsonObject = {};
    if (o.home) {
      const view = homeViews.get(o.user);
      if (!view) return Promise.reject(new Error(`${what}: no home view published for ${o.user}`));
      blocks = view.blocks as JsonObject[];
      container = { type: 'view', view_id: view.id };
      extra.view = view;
    } else {
      const channelId = o.channel;
      if (!channelId)
        return Promise.reject(new Error(`${what}: pass channel and message_ts, message, or home`));
      let message: JsonObject;
      if (o.message) {
        message = { type: 'message', user: BOT.userId, bot_id: BOT.botId, ...o.message };
        blocks = o.message.blocks;
      } else {
        const stored = findMessage(channelId, o.message_ts ?? '');
        if (!stored || stored.deleted) {
          return Promise.reject(new Error(`${what}: no message ${o.message_ts} in ${channelId}`));
        }
        message = botMessage(stored);
        blocks = stored.blocks;
      }
      const ts = String(message.ts);
      const ch = channels.get(channelId);
      container = { type: 'message', message_ts: ts, channel_id: channelId, is_ephemeral: false };
      extra.channel = { id: channelId, name: ch?.is_im ? 'directmessage' : (ch?.name ?? 'unknown') };
      extra.message = message;
      extra.response_url = newResponseUrl({
        source: 'block_actions',
        origin: { channel: channelId, ts },
        user: o.user,
        channel: channelId,
      });
    }
    const found = findElement(blocks, o.action_id);
    if (!found) return Promise.reject(new Error(`${what}: no element with that action_id in the blocks`));
    const [block, element] = found;
    const action: JsonObject = {
      action_id: o.action_id,
      block_id: o.block_id ?? block.block_id,
      type: element.type,
      action_ts: actionTs,
      ...(element.text !== undefined ? { text: element.text } : {}),
      ...(element.style !== undefined ? { style: element.style } : {}),
      ...(o.value !== undefined || element.value !== undefined ? { value: o.value ?? element.value } : {}),
    };
    const payload: JsonObject = {
      type: 'block_actions',
      user: { id: o.user, username: userName(o.user), name: userName(o.user), team_id: TEAM.id },
      api_app_id: BOT.appId,
      token: VERIFICATION_TOKEN,
      container,
      trigger_id: triggerId(),
      team: { id: TEAM.id, domain: TEAM.domain },
      enterprise: null,
      is_enterprise_install: false,
      ...extra,
      state: { values: {} },
      actions: [action],
      ...o.overrides,
    };
    return sendEnvelope('interactive', payload, { timeoutMs: o.timeoutMs }, what);
  }

  function sendEvent(event: JsonObject, o: EventOptions = {}): Promise<SocketAck> {
    const eventTs = str(event.event_ts) ?? str(event.ts) ?? nextTs();
    const payload: JsonObject = {
      token: VERIFICATION_TOKEN,
      team_id: TEAM.id,
      context_team_id: TEAM.id,
      context_enterprise_id: null,
      api_app_id: BOT.appId,
      event: { ...event, event_ts: eventTs },
      type: 'event_callback',
      event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
      event_time: Math.floor(Date.now() / 1000),
      authorizations: [
        {
          enterprise_id: null,
          team_id: TEAM.id,
          user_id: BOT.userId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
      event_context: `4-${randomBytes(24).toString('base64url')}`,
      ...o.overrides,
    };
    const what = `event ${String(event.type)}`;
    return sendEnvelope(
      'events_api',
      payload,
      { timeoutMs: o.timeoutMs, retryAttempt: o.retryAttempt, retryReason: o.retryReason },
      what,
    );
  }

  function waitUntil<T>(check: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const now = check();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const onChange = () => {
        const v = check();
        if (v === undefined) return;
        cleanup();
        resolve(v);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        changes.off('change', onChange);
      };
      changes.on('change', onChange);
    });
  }

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    apiUrl: `${baseUrl}/api/`,
    port,
    botToken,
    appToken,
    team: { ...TEAM },
    bot: { ...BOT },
    calls,
    callsTo: (method) => calls.filter((c) => c.method === method),
    messages: (channel) => (messagesByChannel.get(channel) ?? []).filter((m) => !m.deleted),
    message: findMessage,
    ephemeralMessages: (channel) => ephemerals.filter((e) => channel === undefined || e.channel === channel),
    homeView: (user) => homeViews.get(user),
    responses,
    clearRecords() {
      calls.length = 0;
      responses.length = 0;
    },

    addUser(user) {
      users.set(user.id, { ...user });
    },
    addChannel(id, name, o = {}) {
      channels.set(id, {
        id,
        name,
        is_im: false,
        is_mpim: false,
        is_private: o.is_private ?? false,
        bot_is_member: o.bot_is_member ?? true,
      });
    },
    addUserGroup(id, userIds, handle) {
      userGroups.set(id, { id, handle: handle ?? id.toLowerCase(), users: [...userIds] });
    },
    dmChannelId,
    revokeToken(token) {
      revoked.add(token);
    },

    failNext(method, fault) {
      const queue = faults.get(method) ?? [];
      queue.push({ fault, remaining: fault.times ?? 1 });
      faults.set(method, queue);
    },

    sendSlashCommand,
    sendBlockAction,
    sendEvent,
    sendEnvelope: (type, payload, o) => sendEnvelope(type, payload, o),

    get connections() {
      return conns.filter((c) => c.ws.readyState === c.ws.OPEN).length;
    },
    async waitForConnections(n, timeoutMs = 5000) {
      const count = () => conns.filter((c) => c.ws.readyState === c.ws.OPEN).length;
      await waitUntil(() => (count() === n ? true : undefined), timeoutMs, `${n} Socket Mode connection(s)`);
    },
    waitForCall: (method, where = () => true, timeoutMs = 5000) =>
      waitUntil(
        () => calls.find((c) => c.method === method && c.status !== undefined && where(c)),
        timeoutMs,
        `a call to ${method}`,
      ),
    waitForResponse: (where = () => true, timeoutMs = 5000) =>
      waitUntil(() => responses.find(where), timeoutMs, 'a POST to a response_url'),
    waitForMessage: (channel, where = () => true, timeoutMs = 5000) =>
      waitUntil(
        () => (messagesByChannel.get(channel) ?? []).find((m) => !m.deleted && where(m)),
        timeoutMs,
        `a message in ${channel}`,
      ),
    requestReconnect(reason = 'refresh_requested') {
      const open = conns.filter((c) => c.ws.readyState === c.ws.OPEN);
      for (const c of open) {
        c.ws.send(
          JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `applink-local-${c.id}` } }),
        );
      }
      return open.length;
    },
    dropConnections() {
      for (const c of [...conns]) c.ws.terminate();
    },
    answerPings(enabled) {
      answeringPings = enabled;
    },

    async stop() {
      if (stopped) return;
      stopped = true;
      if (pinger) clearInterval(pinger);
      for (const s of [...sleeping]) s.wake();
      for (const [id, p] of pending) {
        pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new Error(`${p.what} was not acked: the local Slack server stopped`));
      }
      await Promise.all(
        [...conns].map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.ws.readyState === c.ws.CLOSED) return resolve();
              const force = setTimeout(() => c.ws.terminate(), 1000);
              c.ws.once('close', () => {
                clearTimeout(force);
                resolve();
              });
              c.ws.close(1001, 'server stopping');
            }),
        ),
      );
      wss.close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
      changes.removeAllListeners();
    },
  };
}
