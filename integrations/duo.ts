/**
 * The second factor behind "Yes": Duo Auth API v2 (check, preauth, async push, auth_status) through the real
 * `@duosecurity/duo_api` client, wrapped so that every failure comes back as a value and never as an exception.
 * The caller fails closed: anything but `allow` escalates.
 *
 * Why the wrapping: the library signs requests (HMAC-SHA512, canonical request v2) and talks https to port 443
 * with a pinned CA, but it has no timeout, retries 429 on its own for up to ~63 s, reports a network error as a
 * body `{stat:'ERROR'}`, hides the HTTP status, and its `jsonApiCall` calls `JSON.parse` inside the response's
 * 'end' handler, so a non-JSON body (a proxy's HTML 502) becomes an *uncaught* exception. We therefore call
 * `apiCall` and parse the body ourselves, and race every call against a timer.
 */

import { createRequire } from 'node:module';
import { type Logger, pino } from 'pino';
import { ConfigError } from '../lib/errors.js';

export type DuoOutcome =
  | { result: 'allow'; status: string }
  /** Duo said no: `denied`, `fraud`, `timeout` (at Duo, or secbot's own wait), `locked_out`, `bypass`, … */
  | { result: 'deny'; status: string; reason: string }
  | { result: 'pending'; status: string }
  /** Duo could not give an answer: down, 5xx, non-JSON, signature refused, network, too slow. */
  | { result: 'error'; reason: string };

export type DuoEnrollment =
  | { ok: true; device: string }
  | { ok: false; reason: 'not_enrolled' | 'no_push_device' | 'denied' | 'error'; detail: string };

export interface SecondFactor {
  /** GET /auth/v2/check: are the keys and the host right, is Duo reachable. */
  check(): Promise<{ ok: boolean; detail: string }>;
  /** POST /auth/v2/preauth: is the user enrolled with a push-capable device, and which one. */
  preauth(username: string): Promise<DuoEnrollment>;
  /** POST /auth/v2/auth factor=push async=1: starts a push and returns its transaction id. */
  startPush(
    username: string,
    pushinfo: Record<string, string>,
    device?: string,
  ): Promise<{ txid: string } | { error: string }>;
  /** GET /auth/v2/auth_status: one (long-)poll of a push. */
  pollPush(txid: string): Promise<DuoOutcome>;
}

export interface DuoSecondFactorOptions {
  ikey: string;
  skey: string;
  /** The API hostname, e.g. `api-xxxxxxxx.duosecurity.com` (the client always uses https on port 443). */
  host: string;
  logger?: Logger;
  /** Longest wait for check, preauth and startPush. Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * Longest wait for one auth_status call. Duo long-polls it (answers at the next status change), and a push
   * lives about 60 s at Duo, so this is longer than `requestTimeoutMs`. Default 75 s.
   */
  pollTimeoutMs?: number;
}

/** Duo caps the URL-encoded pushinfo below 20,000 bytes. */
const PUSHINFO_MAX_BYTES = 20_000;
const PUSHINFO_MAX_VALUE_CHARS = 1000;

/** The part of `@duosecurity/duo_api` we use (the package ships no types). */
interface DuoApiClient {
  apiCall(
    method: string,
    path: string,
    params: Record<string, string>,
    callback: (body: string) => void,
  ): void;
}
interface DuoApiModule {
  Client: new (ikey: string, skey: string, host: string) => DuoApiClient;
}

type CallResult = { ok: true; response: unknown } | { ok: false; reason: string; code?: number };

/**
 * Builds the Duo adapter. Throws a ConfigError only for a host the client could never reach (a URL, a port);
 * the calls themselves never throw.
 *
 * @example
 * const duo = createDuoSecondFactor({ ikey, skey, host: 'api-xxxxxxxx.duosecurity.com', logger });
 * const enrollment = await duo.preauth('alice');
 * if (enrollment.ok) {
 *   const push = await duo.startPush('alice', { action: 'CreateAccessKey' }, enrollment.device);
 *   if ('txid' in push) outcome = await waitForPush(duo, push.txid, { timeoutMs: 90_000 });
 * }
 */
export function createDuoSecondFactor(opts: DuoSecondFactorOptions): SecondFactor {
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(opts.host)) {
    throw new ConfigError(
      `DUO_HOST must be a bare hostname such as api-xxxxxxxx.duosecurity.com (got ${JSON.stringify(opts.host)}); ` +
        'the Duo client always uses https on port 443',
      'DUO_HOST',
    );
  }
  const require = createRequire(import.meta.url);
  const { Client } = require('@duosecurity/duo_api') as DuoApiModule;
  const client = new Client(opts.ikey, opts.skey, opts.host);
  const requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
  const pollTimeoutMs = opts.pollTimeoutMs ?? 75_000;
  const log = (opts.logger ?? pino({ level: 'silent' })).child({ integration: 'duo', duoHost: opts.host });

  /** One signed call. Never rejects; an answer after the timeout is ignored. */
  function call(
    op: string,
    method: 'GET' | 'POST',
    path: string,
    params: Record<string, string>,
    timeoutMs: number,
  ): Promise<CallResult> {
    return new Promise<CallResult>((resolve) => {
      let settled = false;
      const finish = (r: CallResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (!r.ok) {
          log.warn({ duoPath: path, duoCode: r.code }, `duo ${op} failed: ${r.reason}`);
        }
        resolve(r);
      };
      const timer = setTimeout(
        () => finish({ ok: false, reason: `no answer within ${timeoutMs} ms` }),
        timeoutMs,
      );
      try {
        client.apiCall(method, path, params, (body) => finish(parseDuoBody(body)));
      } catch (err) {
        finish({ ok: false, reason: `request could not be sent: ${errorText(err)}` });
      }
    });
  }

  return {
    async check() {
      const r = await call('check', 'GET', '/auth/v2/check', {}, requestTimeoutMs);
      if (!r.ok) return { ok: false, detail: r.reason };
      const time = field(r.response, 'time');
      const when = typeof time === 'number' ? new Date(time * 1000).toISOString() : 'unknown';
      return { ok: true, detail: `Duo reachable, keys accepted (Duo time ${when})` };
    },

    async preauth(username) {
      const r = await call('preauth', 'POST', '/auth/v2/preauth', { username }, requestTimeoutMs);
      if (!r.ok) return { ok: false, reason: 'error', detail: r.reason };
      const result = field(r.response, 'result');
      const statusMsg = String(field(r.response, 'status_msg') ?? '');
      switch (result) {
        case 'auth': {
          const device = pushDevice(field(r.response, 'devices'));
          if (device) return { ok: true, device };
          return {
            ok: false,
            reason: 'no_push_device',
            detail: `${username} has no device that can take a push`,
          };
        }
        case 'enroll':
          return {
            ok: false,
            reason: 'not_enrolled',
            detail: statusMsg || `${username} is not enrolled in Duo`,
          };
        case 'deny':
          return { ok: false, reason: 'denied', detail: statusMsg || `Duo denies ${username}` };
        case 'allow':
          // Duo policy lets this user bypass the second factor: no push would ever be shown, so nothing could
          // prove a human made the change. Fail closed.
          return {
            ok: false,
            reason: 'no_push_device',
            detail: `Duo lets ${username} bypass the second factor (preauth result 'allow'); secbot needs a push`,
          };
        default:
          log.warn(
            { duoPath: '/auth/v2/preauth' },
            `duo preauth failed: unexpected result ${JSON.stringify(result)}`,
          );
          return {
            ok: false,
            reason: 'error',
            detail: `unexpected preauth result ${JSON.stringify(result)}`,
          };
      }
    },

    async startPush(username, pushinfo, device = 'auto') {
      const encoded = encodePushinfo(pushinfo);
      if (encoded === undefined) {
        const error = `pushinfo is ${PUSHINFO_MAX_BYTES} bytes or more once URL-encoded`;
        log.warn({ duoPath: '/auth/v2/auth' }, `duo push not started: ${error}`);
        return { error };
      }
      const params = { username, factor: 'push', device, async: '1', pushinfo: encoded };
      const r = await call('push', 'POST', '/auth/v2/auth', params, requestTimeoutMs);
      if (!r.ok) return { error: r.reason };
      const txid = field(r.response, 'txid');
      if (typeof txid !== 'string' || txid === '') {
        log.warn({ duoPath: '/auth/v2/auth' }, 'duo push failed: the answer has no txid');
        return { error: 'Duo answered without a txid' };
      }
      return { txid };
    },

    async pollPush(txid) {
      const r = await call('auth_status', 'GET', '/auth/v2/auth_status', { txid }, pollTimeoutMs);
      if (!r.ok) return { result: 'error', reason: r.reason };
      const result = field(r.response, 'result');
      const status = String(field(r.response, 'status') ?? '');
      if (result === 'allow') {
        // A bypass user is let in without seeing a push: not a human confirmation.
        if (status === 'bypass') return { result: 'deny', status, reason: 'bypass' };
        return { result: 'allow', status };
      }
      if (result === 'deny') return { result: 'deny', status, reason: denyReason(status) };
      if (result === 'waiting') return { result: 'pending', status };
      log.warn(
        { duoPath: '/auth/v2/auth_status' },
        `duo auth_status failed: unexpected result ${String(result)}`,
      );
      return { result: 'error', reason: `unexpected auth_status result ${JSON.stringify(result)}` };
    },
  };
}

/**
 * Polls a push until Duo allows or denies it, a poll fails, or `timeoutMs` passes.
 *
 * Outcomes: Duo's own answer (`allow`, `deny` with reason `denied` / `fraud` / `timeout` / `locked_out` / …),
 * the first `error` (fail closed: no retry), or, when secbot's deadline passes first,
 * `{ result: 'deny', reason: 'timeout', status: <last status Duo reported, e.g. 'pushed'> }` — the same reason
 * Duo uses for its own push timeout (`status: 'timeout'`), since for the caller both mean "nobody approved in
 * time". An aborted `signal` gives `{ result: 'error', reason: 'aborted' }`. A poll still under way at the
 * deadline is abandoned and its late answer ignored.
 *
 * @example
 * const outcome = await waitForPush(duo, txid, { timeoutMs: 90_000, intervalMs: 1000 });
 * if (outcome.result !== 'allow') await escalate(…);
 */
export async function waitForPush(
  duo: SecondFactor,
  txid: string,
  opts: { timeoutMs: number; intervalMs?: number; signal?: AbortSignal },
): Promise<DuoOutcome> {
  const intervalMs = opts.intervalMs ?? 1000;
  const deadline = Date.now() + opts.timeoutMs;
  let lastStatus = 'waiting';
  const timedOut = (): DuoOutcome => ({ result: 'deny', status: lastStatus, reason: 'timeout' });
  for (;;) {
    // pollPush of our adapter never rejects; another SecondFactor might, and that too is an error outcome.
    const attempt = Promise.resolve()
      .then(() => duo.pollPush(txid))
      .catch((err: unknown): DuoOutcome => ({ result: 'error', reason: errorText(err) }));
    const poll = await untilDeadline(attempt, deadline, opts.signal);
    if (poll === 'aborted') return { result: 'error', reason: 'aborted' };
    if (poll === 'timeout') return timedOut();
    if (poll.result !== 'pending') return poll;
    lastStatus = poll.status;
    const pause = await untilDeadline(sleep(intervalMs), deadline, opts.signal);
    if (pause === 'aborted') return { result: 'error', reason: 'aborted' };
    if (pause === 'timeout') return timedOut();
  }
}

/**
 * Resolves with `work`'s value (`work` must not reject), or 'timeout' at the deadline, or 'aborted';
 * a late value is dropped.
 */
function untilDeadline<T>(
  work: Promise<T>,
  deadline: number,
  signal?: AbortSignal,
): Promise<T | 'timeout' | 'aborted'> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: T | 'timeout' | 'aborted') => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(v);
    };
    const onAbort = () => done('aborted');
    const timer = setTimeout(() => done('timeout'), Math.max(0, deadline - Date.now()));
    signal?.addEventListener('abort', onAbort, { once: true });
    void work.then(done);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Turns the body the library hands us (it never gives the HTTP status) into a result. */
function parseDuoBody(body: unknown): CallResult {
  if (typeof body !== 'string' || body.trim() === '') return { ok: false, reason: 'empty answer from Duo' };
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { ok: false, reason: `answer is not JSON (${snippet(body)})` };
  }
  const stat = field(json, 'stat');
  if (stat === 'OK') return { ok: true, response: field(json, 'response') };
  const message = String(field(json, 'message') ?? 'no message');
  if (stat === 'ERROR') return { ok: false, reason: `network error: ${message}` }; // the library's own report
  if (stat === 'FAIL') {
    const code = field(json, 'code');
    const detail = field(json, 'message_detail');
    const hint = typeof code === 'number' ? DUO_CODE_HINTS[code] : undefined;
    return {
      ok: false,
      code: typeof code === 'number' ? code : undefined,
      reason: `${message}${detail ? `: ${String(detail)}` : ''} (code ${String(code ?? '?')}${hint ? `; ${hint}` : ''})`,
    };
  }
  return { ok: false, reason: `unexpected answer (${snippet(body)})` };
}

/** What an operator should look at for the failures that are configuration, not Duo being down. */
const DUO_CODE_HINTS: Record<number, string> = {
  40101: 'request credentials missing',
  40102: 'check DUO_IKEY',
  40103: 'invalid signature: check DUO_SKEY and the system clock',
  40301: 'check that the Duo application is an Auth API application',
};

function pushDevice(devices: unknown): string | undefined {
  if (!Array.isArray(devices)) return undefined;
  for (const d of devices) {
    const caps = field(d, 'capabilities');
    const id = field(d, 'device');
    if (Array.isArray(caps) && caps.includes('push') && typeof id === 'string' && id !== '') return id;
  }
  return undefined;
}

function denyReason(status: string): string {
  if (status === 'deny') return 'denied';
  return status || 'denied';
}

/**
 * `key=value&…` with RFC 3986 percent-encoding (space as %20, which Duo Mobile shows as a space), in the
 * object's order. Long values are shortened; undefined when the whole is still too long for Duo.
 */
export function encodePushinfo(pushinfo: Record<string, string>): string | undefined {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const encoded = Object.entries(pushinfo)
    .map(([k, v]) => {
      const value = v.length > PUSHINFO_MAX_VALUE_CHARS ? `${v.slice(0, PUSHINFO_MAX_VALUE_CHARS - 1)}…` : v;
      return `${enc(k)}=${enc(value)}`;
    })
    .join('&');
  return Buffer.byteLength(encoded) < PUSHINFO_MAX_BYTES ? encoded : undefined;
}

function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

function snippet(body: string): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return JSON.stringify(flat.length > 80 ? `${flat.slice(0, 80)}…` : flat);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
