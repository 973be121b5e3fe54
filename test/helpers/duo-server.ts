/**
 * A local Duo Auth API v2 for tests: it checks Duo's request signatures, answers /auth/v2/check, /preauth,
 * /auth (async push → txid) and /auth_status with outcomes scripted per username, injects faults, and records
 * every request.
 *
 * How the real client's https to port 443 reaches it
 * --------------------------------------------------
 * `@duosecurity/duo_api` always calls `https.request({ host, ca: <pinned Duo CAs> })` on port 443; its host
 * cannot carry a port and its CA list is fixed, so it cannot be pointed at a loopback server directly. We do not
 * patch it. Instead:
 *
 * 1. The Duo API runs as a real HTTP server on 127.0.0.1 (free port): `startDuoHttpServer()`. All protocol
 *    logic (signature check, endpoints, faults, records) lives there and sees real HTTP requests.
 * 2. nock (the well-kept http interception library, v15 on @mswjs/interceptors) intercepts the client's
 *    `https://<DUO_HOST>` requests inside Node's http layer, before any TLS (so the pinned CA never comes into
 *    play), and forwards each one, byte for byte with its original Host, Date and Authorization headers, to
 *    the loopback server: `installDuoForwarding(host, url)`. A dropped loopback connection becomes a network
 *    error in the client. Every other loopback request passes through (`enableNetConnect` for 127.0.0.1,
 *    localhost, ::1); requests to any other host are refused, so a test can never reach the real Duo.
 * 3. `startDuoServer()` does both in this process. For a child process (secbot run as a process), start the
 *    server, and run the child with `server.childArgs()` (`--import tsx --import <duo-preload.ts>`) and
 *    `server.childEnv()` (DUO_HOST/IKEY/SKEY and SECBOT_TEST_DUO_FORWARD): the preload installs the same
 *    forwarding inside the child, and the Duo traffic of the unmodified client lands on this server.
 *
 * Signature scheme checked (written from Duo's API documentation, not from the client's code): Basic auth
 * `ikey:hex(HMAC(skey, canon))` where canon is the lines Date, METHOD, host (lower case), path, and the
 * parameters (query string for GET, form body for POST) as `key=value` pairs sorted by key, RFC 3986 encoded
 * (unreserved characters kept, everything else `%XX` with upper-case hex), joined by `&`. HMAC-SHA1 (40 hex
 * digits) and HMAC-SHA512 (128) are both accepted, as Duo does for signature v2. The Date header must be within
 * `maxClockSkewMs` of the server's clock. Failures answer 401 with Duo's error body, e.g.
 * `{stat:'FAIL', code:40103, message:'Invalid signature in request credentials'}`.
 *
 * @example
 * const duo = await startDuoServer();
 * after(() => duo.stop());
 * duo.user('alice', 'allow');
 * duo.fail({ kind: 'non_json' }, { path: '/auth/v2/preauth' });
 * const sf = createDuoSecondFactor({ ikey: duo.ikey, skey: duo.skey, host: duo.host });
 */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import nock from 'nock';

export type DuoUserScript =
  /** Enrolled with a push phone; the push is approved. */
  | 'allow'
  /** Enrolled with a push phone; the push is denied. */
  | 'deny'
  /** Enrolled with a push phone; the push is reported as fraud. */
  | 'fraud'
  /** Enrolled with a push phone; the push is never answered (auth_status stays `waiting`). */
  | 'timeout'
  /** preauth says `enroll`. Also what an unknown username gets. */
  | 'not_enrolled'
  /** Enrolled, but only with a phone that cannot take a push. */
  | 'no_push'
  /** preauth says `deny` (locked out). */
  | 'locked_out';

export type DuoFault =
  /** An HTTP 5xx with Duo's JSON error body. */
  | { kind: '5xx'; status?: number }
  /** A 502 with an HTML body, as a proxy or load balancer would send. */
  | { kind: 'non_json' }
  /** The normal answer, after `delayMs`. */
  | { kind: 'slow'; delayMs: number }
  /** The connection is closed without an answer. */
  | { kind: 'drop' };

export interface DuoRecordedRequest {
  method: string;
  path: string;
  /** Decoded request parameters (query for GET, form body for POST). */
  params: Record<string, string>;
  /** The `pushinfo` parameter, itself URL-decoded into pairs. */
  pushinfo?: Record<string, string>;
  /** `ok`, or why the signature was refused. */
  signature: 'ok' | string;
  /** Which HMAC the client used, when the signature was valid. */
  hmac?: 'sha1' | 'sha512';
  fault?: DuoFault['kind'];
  status?: number;
}

export interface DuoApiOptions {
  ikey?: string;
  skey?: string;
  host?: string;
  /** Largest accepted difference between the request's Date and the server clock. Default 5 min. */
  maxClockSkewMs?: number;
  /** auth_status answers `waiting` this many times before the scripted outcome. Default 1. */
  answerAfterPolls?: number;
}

/** The controls shared by the in-process and the child-process forms. */
export interface DuoTestApi {
  readonly ikey: string;
  readonly skey: string;
  readonly host: string;
  /** Every request, in arrival order. */
  readonly requests: DuoRecordedRequest[];
  /** Scripts a user. Unknown users are `not_enrolled`. */
  user(username: string, script: DuoUserScript, opts?: { answerAfterPolls?: number }): void;
  /** The next `times` (default 1) requests, to `path` if given, get `fault`. */
  fail(fault: DuoFault, opts?: { times?: number; path?: string }): void;
  /** The /auth requests (pushes) with their decoded pushinfo. */
  pushes(): DuoRecordedRequest[];
}

export interface DuoHttpServer extends DuoTestApi {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  stop(): Promise<void>;
}

export interface DuoServer extends DuoHttpServer {
  /** Environment for a child process: Duo settings plus SECBOT_TEST_DUO_FORWARD for the preload. */
  childEnv(): Record<string, string>;
  /** Node arguments that install the forwarding in a child (put them before the script). */
  childArgs(): string[];
}

interface Reply {
  status: number;
  body: string;
  contentType: string;
}

const DEFAULT_HOST = 'api-secbot-test.duosecurity.com';
const PUSH_PHONE = 'DPFZRS9FB0D46QFTM891';
const LANDLINE = 'DPQ7KJ5N0B6Y3PZ4T8VX';

/** Starts the loopback Duo server and forwards this process's `https://<host>` traffic to it. */
export async function startDuoServer(opts: DuoApiOptions = {}): Promise<DuoServer> {
  const server = await startDuoHttpServer(opts);
  const stopHttp = server.stop;
  const uninstall = installDuoForwarding(server.host, server.url);
  return {
    ...server,
    async stop() {
      uninstall();
      await stopHttp();
    },
    childEnv: () => ({
      DUO_HOST: server.host,
      DUO_IKEY: server.ikey,
      DUO_SKEY: server.skey,
      SECBOT_TEST_DUO_FORWARD: server.url,
    }),
    childArgs: () => [
      '--import',
      'tsx',
      '--import',
      fileURLToPath(new URL('./duo-preload.ts', import.meta.url)),
    ],
  };
}

/** The Duo API as a real HTTP server on 127.0.0.1 (free port). */
export async function startDuoHttpServer(opts: DuoApiOptions = {}): Promise<DuoHttpServer> {
  const api = createDuoApi(opts);
  const aborter = new AbortController();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      api
        .handle(
          {
            method: req.method ?? 'GET',
            url: req.url ?? '/',
            headers,
            body: Buffer.concat(chunks).toString(),
          },
          aborter.signal,
        )
        .then((reply) => {
          if (reply === 'drop') {
            req.socket.destroy();
            return;
          }
          res.writeHead(reply.status, { 'content-type': reply.contentType });
          res.end(reply.body);
        })
        .catch(() => req.socket.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const controls = api.controls;
  const result: DuoHttpServer = {
    ikey: controls.ikey,
    skey: controls.skey,
    host: controls.host,
    requests: controls.requests,
    user: controls.user,
    fail: controls.fail,
    pushes: controls.pushes,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      aborter.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Forwarding https://<duo host> → the loopback server, with nock.

/** host → loopback URL, for this process. nock is global, so is this. */
const forwards = new Map<string, string>();
const intercepted = new Set<string>();
const LOOPBACK = /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/;

/**
 * Intercepts this process's `https://<host>` requests (nock, before TLS) and forwards them to `targetUrl`.
 * Returns the undo; when the last forwarding is undone, nock's interceptors are removed and http is restored.
 */
export function installDuoForwarding(host: string, targetUrl: string): () => void {
  polyfillPromiseWithResolvers();
  if (!nock.isActive()) nock.activate();
  nock.enableNetConnect((h: string) => LOOPBACK.test(h));
  forwards.set(host, targetUrl);
  if (!intercepted.has(host)) {
    intercepted.add(host);
    const forward = (req: Request) => forwardRequest(req, host);
    nock(`https://${host}`).persist().get(/.*/).reply(forward).post(/.*/).reply(forward);
  }
  return () => {
    if (forwards.get(host) === targetUrl) forwards.delete(host);
    if (forwards.size === 0) {
      intercepted.clear();
      nock.cleanAll();
      nock.enableNetConnect();
      nock.restore();
    }
  };
}

async function forwardRequest(req: Request, host: string): Promise<[number, string, Record<string, string>]> {
  const target = forwards.get(host);
  if (!target) throw new Error(`no Duo test server for ${host}`);
  const url = new URL(req.url);
  const body = Buffer.from(await req.arrayBuffer());
  const headers: Record<string, string> = {};
  req.headers.forEach((value, key) => {
    if (!['connection', 'transfer-encoding', 'content-length', 'host'].includes(key)) headers[key] = value;
  });
  headers.host = url.host;
  headers['content-length'] = String(body.length);
  const t = new URL(target);
  return new Promise((resolve, reject) => {
    const out = http.request(
      {
        host: t.hostname,
        port: t.port,
        method: req.method,
        path: url.pathname + url.search,
        headers,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve([
            res.statusCode ?? 502,
            Buffer.concat(chunks).toString(),
            { 'content-type': res.headers['content-type'] ?? 'text/plain' },
          ]),
        );
        res.on('error', reject);
      },
    );
    out.on('error', reject); // a dropped connection → the Duo client's request fails too
    out.end(body);
  });
}

/** nock 15's @mswjs/interceptors calls Promise.withResolvers, which Node 20 lacks (it came in Node 22). */
function polyfillPromiseWithResolvers(): void {
  const P = Promise as unknown as { withResolvers?: () => unknown };
  if (P.withResolvers) return;
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The API itself: signature check, endpoints, scripts, faults, records.

interface IncomingDuoRequest {
  method: string;
  /** Path and query. */
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface Transaction {
  username: string;
  script: DuoUserScript;
  answerAfterPolls: number;
  polls: number;
}

function createDuoApi(opts: DuoApiOptions) {
  const ikey = opts.ikey ?? `DI${randomBytes(9).toString('hex').toUpperCase()}`;
  const skey = opts.skey ?? randomBytes(20).toString('hex');
  const host = (opts.host ?? DEFAULT_HOST).toLowerCase();
  const maxClockSkewMs = opts.maxClockSkewMs ?? 5 * 60_000;
  const users = new Map<string, { script: DuoUserScript; answerAfterPolls?: number }>();
  const faults: { fault: DuoFault; times: number; path?: string }[] = [];
  const transactions = new Map<string, Transaction>();
  const requests: DuoRecordedRequest[] = [];

  const controls: DuoTestApi = {
    ikey,
    skey,
    host,
    requests,
    user(username, script, o = {}) {
      users.set(username, { script, answerAfterPolls: o.answerAfterPolls });
    },
    fail(fault, o = {}) {
      faults.push({ fault, times: o.times ?? 1, path: o.path });
    },
    pushes: () => requests.filter((r) => r.path === '/auth/v2/auth'),
  };

  async function handle(req: IncomingDuoRequest, signal: AbortSignal): Promise<Reply | 'drop'> {
    const url = new URL(req.url, 'http://duo.invalid');
    const method = req.method.toUpperCase();
    const bodyParams = method === 'POST' || method === 'PUT';
    const pairs = [...new URLSearchParams(bodyParams ? req.body : url.search)];
    const params = Object.fromEntries(pairs);
    const record: DuoRecordedRequest = { method, path: url.pathname, params, signature: 'ok' };
    if (typeof params.pushinfo === 'string')
      record.pushinfo = Object.fromEntries(new URLSearchParams(params.pushinfo));
    requests.push(record);

    const fault = takeFault(url.pathname);
    if (fault) record.fault = fault.kind;
    if (fault?.kind === 'drop') return 'drop';
    if (fault?.kind === 'non_json')
      return finish(record, html(502, '<html><body><h1>502 Bad Gateway</h1></body></html>'));
    if (fault?.kind === '5xx')
      return finish(record, fail(fault.status ?? 500, 50000, 'Internal server error'));
    if (fault?.kind === 'slow') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, fault.delayMs);
        const onAbort = () => {
          clearTimeout(timer);
          reject(new Error('stopped'));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      });
    }

    const verdict = verifyDuoSignature({
      method,
      host: req.headers.host ?? '',
      path: url.pathname,
      params: pairs,
      headers: req.headers,
      ikey,
      skey,
      expectedHost: host,
      maxClockSkewMs,
    });
    if (!verdict.ok) {
      record.signature = verdict.message_detail ?? verdict.message;
      return finish(record, fail(401, verdict.code, verdict.message, verdict.message_detail));
    }
    record.hmac = verdict.hmac;
    return finish(record, route(method, url.pathname, params));
  }

  function takeFault(path: string): DuoFault | undefined {
    const i = faults.findIndex((f) => f.times > 0 && (f.path === undefined || f.path === path));
    const f = faults[i];
    if (!f) return undefined;
    f.times -= 1;
    if (f.times === 0) faults.splice(i, 1);
    return f.fault;
  }

  function route(method: string, path: string, params: Record<string, string>): Reply {
    const endpoint = `${method} ${path}`;
    switch (endpoint) {
      case 'GET /auth/v2/check':
        return ok({ time: Math.floor(Date.now() / 1000) });
      case 'POST /auth/v2/preauth':
        return preauth(params);
      case 'POST /auth/v2/auth':
        return auth(params);
      case 'GET /auth/v2/auth_status':
        return authStatus(params);
      default:
        return fail(404, 40401, 'Resource not found', endpoint);
    }
  }

  function scriptOf(username: string): DuoUserScript {
    return users.get(username)?.script ?? 'not_enrolled';
  }

  function devicesOf(script: DuoUserScript) {
    if (script === 'no_push') {
      return [
        {
          device: LANDLINE,
          type: 'phone',
          number: 'XXX-XXX-0100',
          name: 'desk phone',
          display_name: 'Landline (XXX-XXX-0100)',
          capabilities: ['phone'],
        },
      ];
    }
    return [
      {
        device: PUSH_PHONE,
        type: 'phone',
        number: 'XXX-XXX-0199',
        name: 'work phone',
        display_name: 'iOS (XXX-XXX-0199)',
        capabilities: ['auto', 'push', 'sms', 'phone', 'mobile_otp'],
      },
    ];
  }

  function preauth(params: Record<string, string>): Reply {
    const username = params.username;
    if (!username) return fail(400, 40002, 'Invalid request parameters', 'username');
    const script = scriptOf(username);
    if (script === 'not_enrolled') {
      return ok({
        result: 'enroll',
        status_msg: 'Enroll an authentication device to proceed',
        enroll_portal_url: `https://${host}/portal?code=48bac5d9393fb2c2`,
      });
    }
    if (script === 'locked_out') return ok({ result: 'deny', status_msg: 'Your account is disabled.' });
    return ok({ result: 'auth', status_msg: 'Account is active', devices: devicesOf(script) });
  }

  function auth(params: Record<string, string>): Reply {
    const { username, factor, device, async: isAsync } = params;
    if (!username) return fail(400, 40002, 'Invalid request parameters', 'username');
    if (factor !== 'push')
      return fail(400, 40002, 'Invalid request parameters', 'factor (this server only pushes)');
    if (isAsync !== '1')
      return fail(400, 40002, 'Invalid request parameters', 'async (this server needs async=1)');
    const script = scriptOf(username);
    const pushable = devicesOf(script).filter((d) => d.capabilities.includes('push'));
    if (script === 'not_enrolled' || script === 'locked_out' || pushable.length === 0) {
      return fail(400, 40002, 'Invalid request parameters', 'username has no push device');
    }
    if (device !== undefined && device !== 'auto' && !pushable.some((d) => d.device === device)) {
      return fail(400, 40002, 'Invalid request parameters', 'device');
    }
    const txid = randomUUIDLike();
    const answerAfterPolls = users.get(username)?.answerAfterPolls ?? opts.answerAfterPolls ?? 1;
    transactions.set(txid, { username, script, answerAfterPolls, polls: 0 });
    return ok({ txid });
  }

  function authStatus(params: Record<string, string>): Reply {
    const tx = params.txid ? transactions.get(params.txid) : undefined;
    if (!tx) return fail(400, 40002, 'Invalid request parameters', 'txid');
    tx.polls += 1;
    if (tx.polls <= tx.answerAfterPolls || tx.script === 'timeout') {
      return ok({
        result: 'waiting',
        status: 'pushed',
        status_msg: 'Pushed a login request to your device...',
      });
    }
    switch (tx.script) {
      case 'allow':
        return ok({ result: 'allow', status: 'allow', status_msg: 'Success. Logging you in...' });
      case 'fraud':
        return ok({ result: 'deny', status: 'fraud', status_msg: 'Login request reported as fraudulent.' });
      default:
        return ok({ result: 'deny', status: 'deny', status_msg: 'Login request denied.' });
    }
  }

  return { handle, controls };
}

function finish(record: DuoRecordedRequest, reply: Reply): Reply {
  record.status = reply.status;
  return reply;
}

function ok(response: unknown): Reply {
  return { status: 200, body: JSON.stringify({ stat: 'OK', response }), contentType: 'application/json' };
}

function fail(status: number, code: number, message: string, message_detail?: string): Reply {
  return {
    status,
    body: JSON.stringify({ stat: 'FAIL', code, message, ...(message_detail ? { message_detail } : {}) }),
    contentType: 'application/json',
  };
}

function html(status: number, body: string): Reply {
  return { status, body, contentType: 'text/html' };
}

function randomUUIDLike(): string {
  const h = randomBytes(16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Signature verification, from Duo's documentation of request signing (v2).

export type SignatureVerdict =
  | { ok: true; hmac: 'sha1' | 'sha512' }
  | { ok: false; code: number; message: string; message_detail?: string };

/**
 * Checks a Duo-signed request. `params` are the decoded parameters as sent (query for GET, form body for POST);
 * `host` is the request's Host header.
 */
export function verifyDuoSignature(req: {
  method: string;
  host: string;
  path: string;
  params: [string, string][];
  headers: Record<string, string | undefined>;
  ikey: string;
  skey: string;
  expectedHost: string;
  maxClockSkewMs: number;
  now?: number;
}): SignatureVerdict {
  const refused = (code: number, message: string, detail?: string): SignatureVerdict => ({
    ok: false,
    code,
    message,
    message_detail: detail,
  });
  const auth = req.headers.authorization ?? '';
  const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth);
  if (!m?.[1]) return refused(40101, 'Missing request credentials');
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const ikey = colon >= 0 ? decoded.slice(0, colon) : '';
  const signature = colon >= 0 ? decoded.slice(colon + 1) : '';
  if (ikey !== req.ikey) return refused(40102, 'Invalid integration key in request credentials');

  const invalid = (detail: string) => refused(40103, 'Invalid signature in request credentials', detail);
  const date = req.headers['x-duo-date'] ?? req.headers.date;
  if (!date) return invalid('no Date header');
  const when = Date.parse(date);
  if (Number.isNaN(when) || Math.abs((req.now ?? Date.now()) - when) > req.maxClockSkewMs) {
    return invalid(`Date header ${JSON.stringify(date)} is unreadable or too far from the server clock`);
  }
  const host = req.host.toLowerCase();
  if (host !== req.expectedHost) return invalid(`request was for host ${host}, this is ${req.expectedHost}`);

  const canon = [date, req.method.toUpperCase(), host, req.path, canonicalDuoParams(req.params)].join('\n');
  const hmac = signature.length === 40 ? 'sha1' : signature.length === 128 ? 'sha512' : undefined;
  if (!hmac || !/^[0-9a-f]+$/i.test(signature))
    return invalid('signature is not a hex HMAC-SHA1 or HMAC-SHA512');
  const expected = createHmac(hmac, req.skey).update(canon, 'utf8').digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return invalid('HMAC mismatch');
  return { ok: true, hmac };
}

/** `k=v&…` sorted by key (then value), each part RFC 3986-encoded with upper-case hex. */
export function canonicalDuoParams(params: [string, string][]): string {
  const bytes = (s: string) => Buffer.from(s, 'utf8');
  return [...params]
    .sort(
      ([ak, av], [bk, bv]) => Buffer.compare(bytes(ak), bytes(bk)) || Buffer.compare(bytes(av), bytes(bv)),
    )
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .join('&');
}

function rfc3986(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
