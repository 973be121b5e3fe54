/** Proves the local Slack server against the real, unmodified Bolt app and WebClient over loopback. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  App,
  type AppOptions,
  type BlockButtonAction,
  type Logger,
  LogLevel,
  SocketModeReceiver,
} from '@slack/bolt';
import { ErrorCode, WebClient } from '@slack/web-api';
import { type SlackServer, startSlackServer } from './slack-server.js';

/** A Bolt/WebClient logger that keeps warnings and errors for assertions instead of printing them. */
function recordingLogger(): Logger & { warnings: string[]; errors: string[] } {
  let level = LogLevel.ERROR;
  const text = (msg: unknown[]) => msg.map(String).join(' ');
  return {
    warnings: [],
    errors: [],
    debug() {},
    info() {},
    warn(...msg: unknown[]) {
      this.warnings.push(text(msg));
    },
    error(...msg: unknown[]) {
      this.errors.push(text(msg));
    },
    setLevel(l: LogLevel) {
      level = l;
    },
    getLevel: () => level,
    setName() {},
  };
}

function boltApp(slack: SlackServer, logger: Logger, extra: Partial<AppOptions> = {}): App {
  return new App({
    token: slack.botToken,
    appToken: slack.appToken,
    socketMode: true,
    clientOptions: { slackApiUrl: slack.apiUrl },
    logLevel: LogLevel.ERROR,
    logger,
    ...extra,
  });
}

/** A WebClient that does not retry, so each injected fault surfaces as the client's error. */
function webClient(slack: SlackServer, token = slack.botToken, timeout = 0): WebClient {
  return new WebClient(token, {
    slackApiUrl: slack.apiUrl,
    retryConfig: { retries: 0 },
    logger: recordingLogger(),
    timeout,
  });
}

async function rejectsWithSlackError(call: Promise<unknown>, error: string): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.equal((err as { code?: string }).code, ErrorCode.PlatformError);
    assert.equal((err as { data?: { error?: string } }).data?.error, error);
    return true;
  });
}

const ALICE = { id: 'U0ALICE01', name: 'alice', email: 'Alice@Example.com', tz: 'Europe/Berlin' };
const BOB = { id: 'U0BOB0001', name: 'bob', email: 'bob@example.com', deleted: true };
const SECOPS = 'C0SECOPS1';
const QUIET = 'C0QUIET01';
const ONCALL = 'S0ONCALL1';

const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text } });

describe('local Slack server with the real Bolt app', () => {
  let slack: SlackServer;
  let app: App;
  const appLog = recordingLogger();
  const clicked: string[] = [];
  const replicaAcks: string[] = [];

  before(async () => {
    slack = await startSlackServer();
    slack.addUser(ALICE);
    slack.addUser(BOB);
    slack.addChannel(SECOPS, 'secops');
    slack.addChannel(QUIET, 'quiet', { bot_is_member: false });
    slack.addUserGroup(ONCALL, [ALICE.id], 'secops-oncall');

    app = boltApp(slack, appLog);
    app.command('/secbot', async ({ command, ack, respond }) => {
      if (command.text !== 'status') {
        await ack(`unknown: ${command.text}`);
        return;
      }
      await ack();
      await respond({ text: `all quiet, <@${command.user_id}>` });
    });
    app.command('/replica', async ({ ack }) => {
      replicaAcks.push('A');
      await ack('A');
    });
    app.action<BlockButtonAction>('approve', async ({ ack, body, action, client }) => {
      await ack();
      clicked.push(action.value ?? '');
      await client.chat.update({
        channel: body.channel?.id ?? '',
        ts: body.message?.ts ?? '',
        text: `Approved by <@${body.user.id}>`,
        blocks: [],
      });
    });
    app.event('app_home_opened', async ({ event, client }) => {
      await client.views.publish({
        user_id: event.user,
        view: { type: 'home', blocks: [section(`Hello <@${event.user}>`)] },
      });
    });
    await app.start();
  });

  after(async () => {
    await app?.stop();
    await slack?.stop();
  });

  it('app.start() checks the bot token with auth.test and connects over Socket Mode with the app token', async () => {
    assert.equal(slack.connections, 1);
    assert.equal(slack.callsTo('auth.test')[0]?.token, slack.botToken);
    const open = slack.callsTo('apps.connections.open');
    assert.equal(open.length, 1);
    assert.equal(open[0]?.token, slack.appToken);
  });

  it('delivers a slash command, returns the ack, and records what respond() posts to the response_url', async () => {
    const ack = await slack.sendSlashCommand({
      command: '/secbot',
      text: 'status',
      user: ALICE.id,
      channel: SECOPS,
    });
    assert.deepEqual(ack.payload, {});
    const response = await slack.waitForResponse((r) => r.source === 'slash_commands');
    assert.equal(response.body.text, `all quiet, <@${ALICE.id}>`);
    assert.equal(response.user, ALICE.id);
    assert.match(response.url, new RegExp(`^${slack.url}/response/`));
    assert.deepEqual(
      slack.ephemeralMessages(SECOPS).map((m) => [m.user, m.text]),
      [[ALICE.id, `all quiet, <@${ALICE.id}>`]],
    );

    const withText = await slack.sendSlashCommand({ command: '/secbot', text: 'bogus', user: ALICE.id });
    assert.deepEqual(withText.payload, { text: 'unknown: bogus' });
  });

  it('delivers a block action on a stored message; the listener acks and chat.update replaces the message', async () => {
    const posted = await app.client.chat.postMessage({
      channel: SECOPS,
      text: 'Approve the break-glass role?',
      blocks: [
        section('Approve the break-glass role?'),
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              action_id: 'approve',
              value: 'req-1',
              text: { type: 'plain_text', text: 'Approve' },
            },
          ],
        },
      ],
    });
    const ts = posted.ts ?? '';
    const ack = await slack.sendBlockAction({
      user: ALICE.id,
      action_id: 'approve',
      channel: SECOPS,
      message_ts: ts,
    });
    assert.deepEqual(ack.payload, {});
    await slack.waitForCall('chat.update');
    assert.deepEqual(clicked, ['req-1']);
    const message = slack.message(SECOPS, ts);
    assert.equal(message?.text, `Approved by <@${ALICE.id}>`);
    assert.deepEqual(
      message?.versions.map((v) => [v.via, v.text]),
      [
        ['chat.postMessage', 'Approve the break-glass role?'],
        ['chat.update', `Approved by <@${ALICE.id}>`],
      ],
    );
  });

  it('delivers app_home_opened as an events_api envelope; the listener publishes the home view', async () => {
    const ack = await slack.sendEvent({
      type: 'app_home_opened',
      user: ALICE.id,
      channel: slack.dmChannelId(ALICE.id),
      tab: 'home',
    });
    assert.deepEqual(ack.payload, {});
    const call = await slack.waitForCall('views.publish');
    assert.equal(call.params.user_id, ALICE.id);
    const blocks = slack.homeView(ALICE.id)?.blocks as { text: { text: string } }[];
    assert.equal(blocks[0]?.text.text, `Hello <@${ALICE.id}>`);
  });

  it('opens a DM with conversations.open and records the chat.postMessage in it', async () => {
    slack.clearRecords();
    const opened = await app.client.conversations.open({ users: ALICE.id });
    const dm = opened.channel?.id ?? '';
    assert.equal(dm, slack.dmChannelId(ALICE.id));
    await app.client.chat.postMessage({ channel: dm, text: 'Console login from a new IP: was this you?' });
    assert.deepEqual(
      slack.calls.map((c) => c.method),
      ['conversations.open', 'chat.postMessage'],
    );
    assert.deepEqual(
      slack.messages(dm).map((m) => m.text),
      ['Console login from a new IP: was this you?'],
    );
  });

  it('reads a conversation back with conversations.history: newest first, metadata on request, cursor paging', async () => {
    slack.addChannel('C0HISTORY', 'history');
    const dm = 'C0HISTORY';
    for (const n of [1, 2, 3]) {
      await app.client.chat.postMessage({
        channel: dm,
        text: `question ${n}`,
        metadata: { event_type: 'secbot_verification', event_payload: { verification_id: `v_${n}` } },
      });
    }
    const plain = await app.client.conversations.history({ channel: dm });
    assert.deepEqual(
      plain.messages?.map((m) => m.text),
      ['question 3', 'question 2', 'question 1'],
    );
    assert.equal(plain.messages?.[0]?.metadata, undefined, 'metadata only with include_all_metadata');
    const first = await app.client.conversations.history({
      channel: dm,
      include_all_metadata: true,
      limit: 2,
    });
    assert.deepEqual(
      first.messages?.map(
        (m) => (m.metadata?.event_payload as { verification_id?: string })?.verification_id,
      ),
      ['v_3', 'v_2'],
    );
    assert.equal(first.has_more, true);
    const rest = await app.client.conversations.history({
      channel: dm,
      include_all_metadata: true,
      cursor: first.response_metadata?.next_cursor,
    });
    assert.deepEqual(
      rest.messages?.map((m) => m.metadata?.event_type),
      ['secbot_verification'],
    );
    assert.equal(rest.has_more, false);
    const newest = first.messages?.[0]?.ts ?? '';
    const after = await app.client.conversations.history({ channel: dm, oldest: newest });
    assert.deepEqual(after.messages, [], '`oldest` is exclusive');
    const inclusive = await app.client.conversations.history({
      channel: dm,
      oldest: newest,
      inclusive: true,
    });
    assert.equal(inclusive.messages?.length, 1);
    await rejectsWithSlackError(
      webClient(slack).conversations.history({ channel: 'C0NOPE' }),
      'channel_not_found',
    );
    await rejectsWithSlackError(webClient(slack).conversations.history({ channel: QUIET }), 'not_in_channel');
  });

  it('retries a 429 with Retry-After: 1 through the Bolt client, which then succeeds', async () => {
    slack.failNext('chat.postMessage', { status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    slack.clearRecords();
    const res = await app.client.chat.postMessage({ channel: SECOPS, text: 'after the rate limit' });
    assert.equal(res.ok, true);
    assert.ok(Date.now() - started >= 950, 'the client waited for Retry-After');
    assert.deepEqual(
      slack.callsTo('chat.postMessage').map((c) => c.status),
      [429, 200],
    );
    assert.equal(slack.messages(SECOPS).at(-1)?.text, 'after the rate limit');
  });

  it('rejects messages and views the way Slack does', async () => {
    const client = webClient(slack);
    const many = Array.from({ length: 51 }, (_, i) => section(`block ${i}`));
    await rejectsWithSlackError(
      client.chat.postMessage({ channel: SECOPS, text: 'x', blocks: many }),
      'invalid_blocks',
    );
    await assert.rejects(
      client.chat.postMessage({ channel: SECOPS, text: 'x', blocks: [section('a'.repeat(3001))] }),
      (err: { data: { error: string; errors: string[] } }) =>
        err.data.error === 'invalid_blocks' && /\/blocks\/0\/text\/text/.test(err.data.errors[0] ?? ''),
    );
    const fits = await client.chat.postMessage({
      channel: SECOPS,
      text: 'x',
      blocks: [section('a'.repeat(3000))],
    });
    assert.equal(fits.ok, true);
    await rejectsWithSlackError(
      client.chat.postMessage({ channel: 'C0NOWHERE', text: 'x' }),
      'channel_not_found',
    );
    await rejectsWithSlackError(client.chat.postMessage({ channel: QUIET, text: 'x' }), 'not_in_channel');
    await rejectsWithSlackError(client.chat.postMessage({ channel: SECOPS } as never), 'no_text');
    await rejectsWithSlackError(
      client.chat.update({ channel: SECOPS, ts: '1.000001', text: 'x' }),
      'message_not_found',
    );
    const home = (n: number) => ({
      type: 'home' as const,
      blocks: Array.from({ length: n }, () => section('x')),
    });
    await rejectsWithSlackError(
      client.views.publish({ user_id: ALICE.id, view: home(101) }),
      'invalid_arguments',
    );
    assert.equal((await client.views.publish({ user_id: ALICE.id, view: home(100) })).ok, true);
  });

  it('looks up users, DMs and user groups the way Slack does', async () => {
    const client = webClient(slack);
    const alice = await client.users.lookupByEmail({ email: 'alice@example.com' });
    assert.equal(alice.user?.id, ALICE.id);
    assert.equal(alice.user?.tz, 'Europe/Berlin');
    await rejectsWithSlackError(
      client.users.lookupByEmail({ email: 'nobody@example.com' }),
      'users_not_found',
    );
    await rejectsWithSlackError(client.users.lookupByEmail({ email: BOB.email }), 'users_not_found');
    const bob = await client.users.info({ user: BOB.id });
    assert.equal(bob.user?.deleted, true);
    assert.equal(bob.user?.profile?.email, BOB.email);
    await rejectsWithSlackError(client.users.info({ user: 'U0NOBODY1' }), 'user_not_found');
    await rejectsWithSlackError(client.conversations.open({ users: BOB.id }), 'user_disabled');
    assert.deepEqual((await client.usergroups.users.list({ usergroup: ONCALL })).users, [ALICE.id]);
    await rejectsWithSlackError(client.usergroups.users.list({ usergroup: 'S0NOPE' }), 'no_such_subteam');
    assert.equal((await client.bots.info({ bot: slack.bot.botId })).bot?.user_id, slack.bot.userId);
    assert.equal((await client.team.info()).team?.id, slack.team.id);
  });

  it('answers unknown methods and bad, revoked or wrong-type tokens the way Slack does', async () => {
    await rejectsWithSlackError(webClient(slack).apiCall('secbot.nothing'), 'unknown_method');
    await rejectsWithSlackError(webClient(slack, 'xoxb-not-a-token').auth.test(), 'invalid_auth');
    await rejectsWithSlackError(webClient(slack, slack.appToken).auth.test(), 'not_allowed_token_type');
    await rejectsWithSlackError(webClient(slack).apps.connections.open(), 'not_allowed_token_type');
    const revoked = 'xoxb-revoked';
    slack.revokeToken(revoked);
    await rejectsWithSlackError(webClient(slack, revoked).auth.test(), 'token_revoked');
  });

  it('injects Slack errors, HTTP 500s, delays and cut connections for the next calls', async () => {
    const client = webClient(slack);
    slack.failNext('users.info', { error: 'user_not_found' });
    await rejectsWithSlackError(client.users.info({ user: ALICE.id }), 'user_not_found');
    assert.equal((await client.users.info({ user: ALICE.id })).user?.id, ALICE.id, 'the fault applied once');

    slack.failNext('team.info', { status: 500, times: 2 });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(client.team.info(), { code: ErrorCode.HTTPError, statusCode: 500 });
    }
    assert.equal((await client.team.info()).ok, true);

    slack.failNext('*', { delayMs: 300 });
    await assert.rejects(webClient(slack, slack.botToken, 100).auth.test(), { code: ErrorCode.RequestError });

    slack.failNext('auth.test', { destroySocket: true });
    await assert.rejects(client.auth.test(), { code: ErrorCode.RequestError });
    assert.equal(slack.callsTo('auth.test').at(-1)?.error, 'socket_destroyed');
  });

  it('an invalid app token makes app.start() reject with invalid_auth', async () => {
    const bad = boltApp(slack, recordingLogger(), { appToken: 'xapp-1-A0SECBOT1-1-wrong' });
    await assert.rejects(
      bad.start(),
      (err: { data?: { error?: string } }) => err.data?.error === 'invalid_auth',
    );
    await bad.stop();
  });

  it('an invalid bot token makes app.init() reject with invalid_auth when initialization is deferred', async () => {
    // With the default constructor Bolt runs auth.test in the constructor and start() does not wait for it.
    const bad = boltApp(slack, recordingLogger(), { token: 'xoxb-wrong', deferInitialization: true });
    await assert.rejects(
      bad.init(),
      (err: { data?: { error?: string } }) => err.data?.error === 'invalid_auth',
    );
  });

  it('delivers envelopes round-robin to two Bolt apps connected at once', async () => {
    const replicaLog = recordingLogger();
    const replica = boltApp(slack, replicaLog);
    replica.command('/replica', async ({ ack }) => {
      replicaAcks.push('B');
      await ack('B');
    });
    await replica.start();
    try {
      await slack.waitForConnections(2);
      const acks = [];
      for (let i = 0; i < 4; i++)
        acks.push(await slack.sendSlashCommand({ command: '/replica', user: ALICE.id }));
      assert.deepEqual(replicaAcks.toSorted(), ['A', 'A', 'B', 'B']);
      const [c0, c1, c2, c3] = acks.map((a) => a.connection);
      assert.notEqual(c0, c1);
      assert.deepEqual([c2, c3], [c0, c1]);
      assert.deepEqual(
        acks.map((a) => a.payload?.text),
        replicaAcks,
      );
      assert.deepEqual(replicaLog.errors, []);
    } finally {
      await replica.stop();
    }
    await slack.waitForConnections(1);
  });

  it('app.stop() closes the Socket Mode connection and server.stop() rejects later deliveries', async () => {
    assert.deepEqual(appLog.errors, []);
    await app.stop();
    await slack.waitForConnections(0);
    await slack.stop();
    await assert.rejects(
      slack.sendEvent({ type: 'app_home_opened', user: ALICE.id, tab: 'home' }),
      /no Socket Mode connection/,
    );
  });
});

describe('Socket Mode connection lifecycle against the real client', () => {
  let slack: SlackServer;
  let app: App;
  const log = recordingLogger();
  let commands = 0;

  before(async () => {
    slack = await startSlackServer({ pingIntervalMs: 200 });
    slack.addUser(ALICE);
    // A short client ping timeout so a reconnect waits 1 s instead of Bolt's default 5 s.
    const receiver = new SocketModeReceiver({
      appToken: slack.appToken,
      clientPingTimeout: 1000,
      installerOptions: { clientOptions: { slackApiUrl: slack.apiUrl } },
      logger: log,
    });
    app = boltApp(slack, log, { appToken: undefined, socketMode: undefined, receiver });
    app.command('/secbot', async ({ ack }) => {
      commands += 1;
      await ack();
    });
    await app.start();
  });

  after(async () => {
    await app?.stop();
    await slack?.stop();
  });

  it('stays connected while client pings are answered with pongs and the server pings', async () => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(slack.connections, 1);
    assert.equal(slack.callsTo('apps.connections.open').length, 1);
  });

  it('a disconnect message or a dropped connection makes the client reconnect with a fresh ticket', async () => {
    assert.equal(slack.requestReconnect('refresh_requested'), 1);
    await slack.waitForConnections(0);
    await slack.waitForConnections(1, 5000);
    assert.equal(slack.callsTo('apps.connections.open').length, 2);
    await slack.sendSlashCommand({ command: '/secbot', user: ALICE.id });
    assert.deepEqual(log.errors, [], 'a requested reconnect is not an error');

    slack.dropConnections();
    await slack.waitForConnections(0);
    await slack.waitForConnections(1, 5000);
    assert.equal(slack.callsTo('apps.connections.open').length, 3);
    await slack.sendSlashCommand({ command: '/secbot', user: ALICE.id });
    assert.equal(commands, 2);
    assert.ok(
      log.errors.some((e) => /WebSocket error/.test(e)),
      'a cut connection is a WebSocket error to the client',
    );
  });

  it('a server that stops answering pings is dropped by the client, which reconnects once pongs resume', async () => {
    const opened = slack.callsTo('apps.connections.open').length;
    slack.answerPings(false);
    await slack.waitForConnections(0, 3000);
    slack.answerPings(true);
    await slack.waitForConnections(1, 5000);
    assert.ok(slack.callsTo('apps.connections.open').length > opened);
    assert.ok(log.warnings.some((w) => /pong wasn't received/.test(w)));
  });

  it('rejects a delivery that is not acked in time, naming what was sent', async () => {
    await assert.rejects(
      slack.sendSlashCommand({ command: '/nobody-listens', user: ALICE.id, timeoutMs: 300 }),
      /slash command \/nobody-listens was not acked within 300 ms/,
    );
  });
});

it('leaves no sockets or servers open once the apps and servers are stopped', async () => {
  const open = () => process.getActiveResourcesInfo().filter((r) => /^TCP/.test(r));
  const deadline = Date.now() + 2000;
  while (open().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(open(), []);
});
