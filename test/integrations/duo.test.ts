// The Duo adapter with the real @duosecurity/duo_api client against the local, signature-checking Duo server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { createDuoSecondFactor, type SecondFactor, waitForPush } from '../../integrations/duo.js';
import {
  canonicalDuoParams,
  type DuoServer,
  startDuoServer,
  verifyDuoSignature,
} from '../helpers/duo-server.js';

let duo: DuoServer;
let sf: SecondFactor;
const logLines: string[] = [];

before(async () => {
  duo = await startDuoServer({ answerAfterPolls: 1 });
  duo.user('alice', 'allow');
  duo.user('dave', 'deny');
  duo.user('frank', 'fraud');
  duo.user('tim', 'timeout');
  duo.user('nora', 'no_push');
  duo.user('lou', 'locked_out');
  sf = createDuoSecondFactor({
    ikey: duo.ikey,
    skey: duo.skey,
    host: duo.host,
    requestTimeoutMs: 2000,
    pollTimeoutMs: 2000,
    logger: capturingLogger(),
  });
});
after(() => duo.stop());

function capturingLogger() {
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  return pino({ level: 'warn' }, stream);
}

async function pushFor(username: string): Promise<string> {
  const push = await sf.startPush(username, { action: 'CreateAccessKey' });
  assert.ok('txid' in push, `push started: ${JSON.stringify(push)}`);
  return push.txid;
}

describe('createDuoSecondFactor against the local Duo', () => {
  it('check succeeds with the right keys, and the server verified a v2 HMAC-SHA512 signature', async () => {
    const result = await sf.check();
    assert.equal(result.ok, true, result.detail);
    const last = duo.requests.at(-1);
    assert.deepEqual(
      { path: last?.path, signature: last?.signature, hmac: last?.hmac },
      { path: '/auth/v2/check', signature: 'ok', hmac: 'sha512' },
    );
  });

  it('preauth returns the push device of an enrolled user', async () => {
    assert.deepEqual(await sf.preauth('alice'), { ok: true, device: 'DPFZRS9FB0D46QFTM891' });
  });

  it('preauth reports a user Duo does not know as not enrolled', async () => {
    const r = await sf.preauth('nobody');
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'not_enrolled');
  });

  it('preauth reports a user whose only device cannot take a push as no_push_device', async () => {
    const r = await sf.preauth('nora');
    assert.equal(!r.ok && r.reason, 'no_push_device');
  });

  it('preauth reports a locked-out user as denied', async () => {
    const r = await sf.preauth('lou');
    assert.equal(!r.ok && r.reason, 'denied');
  });

  it('an approved push is pending first, then allow through waitForPush', async () => {
    const txid = await pushFor('alice');
    assert.deepEqual(await sf.pollPush(txid), { result: 'pending', status: 'pushed' });
    const outcome = await waitForPush(sf, txid, { timeoutMs: 5000, intervalMs: 10 });
    assert.deepEqual(outcome, { result: 'allow', status: 'allow' });
  });

  it('a denied push is deny with reason denied', async () => {
    const outcome = await waitForPush(sf, await pushFor('dave'), { timeoutMs: 5000, intervalMs: 10 });
    assert.deepEqual(outcome, { result: 'deny', status: 'deny', reason: 'denied' });
  });

  it('a push reported as fraud is deny with reason fraud', async () => {
    const outcome = await waitForPush(sf, await pushFor('frank'), { timeoutMs: 5000, intervalMs: 10 });
    assert.deepEqual(outcome, { result: 'deny', status: 'fraud', reason: 'fraud' });
  });

  it('an unanswered push times out in waitForPush as deny/timeout with the last status', async () => {
    const txid = await pushFor('tim');
    const started = Date.now();
    const outcome = await waitForPush(sf, txid, { timeoutMs: 300, intervalMs: 20 });
    const took = Date.now() - started;
    assert.deepEqual(outcome, { result: 'deny', status: 'pushed', reason: 'timeout' });
    assert.ok(took >= 290 && took < 1500, `took ${took} ms`);
    const polls = duo.requests.filter((r) => r.path === '/auth/v2/auth_status' && r.params.txid === txid);
    assert.ok(polls.length >= 2, `polled ${polls.length} times`);
  });

  it('waitForPush stops with error/aborted when its signal is aborted', async () => {
    const txid = await pushFor('tim');
    const outcome = await waitForPush(sf, txid, {
      timeoutMs: 5000,
      intervalMs: 20,
      signal: AbortSignal.timeout(100),
    });
    assert.deepEqual(outcome, { result: 'error', reason: 'aborted' });
  });

  it('a 5xx from Duo is an error, not a throw', async () => {
    duo.fail({ kind: '5xx', status: 503 }, { path: '/auth/v2/preauth' });
    const r = await sf.preauth('alice');
    assert.equal(!r.ok && r.reason, 'error');
    assert.match(!r.ok ? r.detail : '', /Internal server error \(code 50000\)/);
  });

  it('a non-JSON body is an error, not an (uncaught) exception', async () => {
    duo.fail({ kind: 'non_json' }, { path: '/auth/v2/auth' });
    const push = await sf.startPush('alice', { action: 'CreateUser' });
    assert.ok('error' in push);
    assert.match(push.error, /not JSON \("<html><body><h1>502 Bad Gateway/);
    duo.fail({ kind: 'non_json' }, { path: '/auth/v2/auth_status' });
    const outcome = await sf.pollPush('any-txid');
    assert.equal(outcome.result, 'error');
  });

  it('a slow answer is an error within requestTimeoutMs, and the late answer is ignored', async () => {
    const quick = createDuoSecondFactor({
      ikey: duo.ikey,
      skey: duo.skey,
      host: duo.host,
      requestTimeoutMs: 200,
    });
    duo.fail({ kind: 'slow', delayMs: 1200 }, { path: '/auth/v2/check' });
    const started = Date.now();
    const result = await quick.check();
    const took = Date.now() - started;
    assert.deepEqual(result, { ok: false, detail: 'no answer within 200 ms' });
    assert.ok(took < 700, `took ${took} ms`);
    // The slow answer arrives later and changes nothing; the next call is answered normally.
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await quick.check()).ok, true);
  });

  it('a dropped connection is an error', async () => {
    duo.fail({ kind: 'drop' }, { path: '/auth/v2/check' });
    const result = await sf.check();
    assert.equal(result.ok, false);
    assert.match(result.detail, /network error/);
  });

  it('Duo unreachable (no server for the host) is an error', async () => {
    const lost = createDuoSecondFactor({
      ikey: duo.ikey,
      skey: duo.skey,
      host: 'api-nowhere.duosecurity.com',
    });
    const r = await lost.preauth('alice');
    assert.equal(!r.ok && r.reason, 'error');
  });

  it('a wrong skey is refused by the server (40103) and logged without the secret', async () => {
    const wrongSkey = 'x'.repeat(40);
    const bad = createDuoSecondFactor({
      ikey: duo.ikey,
      skey: wrongSkey,
      host: duo.host,
      logger: capturingLogger(),
    });
    const before = logLines.length;
    const r = await bad.preauth('alice');
    assert.equal(!r.ok && r.reason, 'error');
    assert.match(!r.ok ? r.detail : '', /Invalid signature in request credentials.*code 40103/);
    assert.equal(duo.requests.at(-1)?.signature, 'HMAC mismatch');
    assert.equal(duo.requests.at(-1)?.status, 401);
    const logged = logLines.slice(before).join('');
    assert.match(logged, /duo preauth failed: Invalid signature in request credentials.*code 40103/);
    assert.ok(!logged.includes(wrongSkey) && !logged.includes(duo.skey), 'no secret key in the log');
  });

  it('a wrong ikey is refused by the server (40102)', async () => {
    const bad = createDuoSecondFactor({ ikey: 'DIWRONGWRONGWRONGWRO', skey: duo.skey, host: duo.host });
    const r = await bad.check();
    assert.equal(r.ok, false);
    assert.match(r.detail, /code 40102/);
  });

  it('pushinfo reaches the server URL-decoded, with factor=push, async=1 and the device', async () => {
    const pushinfo = {
      action: 'iam:CreateAccessKey',
      account: '123456789012',
      'who/what': "a b&c=d ✓ (x)*!'~",
    };
    const push = await sf.startPush('alice', pushinfo, 'DPFZRS9FB0D46QFTM891');
    assert.ok('txid' in push);
    const seen = duo.pushes().at(-1);
    assert.deepEqual(seen?.pushinfo, pushinfo);
    assert.equal(seen?.params.factor, 'push');
    assert.equal(seen?.params.async, '1');
    assert.equal(seen?.params.device, 'DPFZRS9FB0D46QFTM891');
    assert.equal(seen?.params.username, 'alice');
    assert.equal(seen?.signature, 'ok');
  });

  it('a push to a device the user does not have is an error', async () => {
    const push = await sf.startPush('alice', {}, 'DPNOTMINE');
    assert.ok('error' in push);
    assert.match(push.error, /code 40002/);
  });

  it('a DUO_HOST with a scheme or port is a configuration error at construction', () => {
    assert.throws(
      () => createDuoSecondFactor({ ikey: 'i', skey: 's', host: 'https://api-x.duosecurity.com' }),
      /DUO_HOST must be a bare hostname/,
    );
    assert.throws(
      () => createDuoSecondFactor({ ikey: 'i', skey: 's', host: '127.0.0.1:8443' }),
      /bare hostname/,
    );
  });
});

describe('verifyDuoSignature (the server side, written from the Duo docs)', () => {
  const skey = 'Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep';
  const ikey = 'DIWJ8X6AEYOR5OMC6TQ1';
  const host = 'api-xxxxxxxx.duosecurity.com';
  const date = new Date().toUTCString();
  const base = {
    method: 'POST',
    host,
    path: '/accounts/v1/account/list',
    ikey,
    skey,
    expectedHost: host,
    maxClockSkewMs: 300_000,
  };
  const realname: [string, string] = ['realname', 'First Last'];
  const params: [string, string][] = [['username', 'root'], realname];

  it('canonicalises parameters sorted by key, RFC 3986-encoded with upper-case hex', () => {
    assert.equal(canonicalDuoParams(params), 'realname=First%20Last&username=root');
    assert.equal(canonicalDuoParams([['x', "!'()*~ é+/"]]), 'x=%21%27%28%29%2A~%20%C3%A9%2B%2F');
    assert.equal(canonicalDuoParams([]), '');
  });

  it("accepts the client library's signature and refuses it after any part of the request changes", () => {
    // The real client's signer (the code under test on the other side); the verifier is independent of it.
    const require = createRequire(import.meta.url);
    const duoSig = require('@duosecurity/duo_api/lib/duo_sig') as {
      sign(
        ikey: string,
        skey: string,
        method: string,
        host: string,
        path: string,
        p: object,
        date: string,
      ): string;
    };
    const authorization = duoSig.sign(ikey, skey, 'POST', host, base.path, Object.fromEntries(params), date);
    const headers = { authorization, date };
    assert.deepEqual(verifyDuoSignature({ ...base, params, headers }), { ok: true, hmac: 'sha512' });
    const refusedCode = (r: ReturnType<typeof verifyDuoSignature>) => (r.ok ? 'accepted' : r.code);
    assert.equal(
      refusedCode(verifyDuoSignature({ ...base, params: [['username', 'root2'], realname], headers })),
      40103,
    );
    assert.equal(refusedCode(verifyDuoSignature({ ...base, method: 'GET', params, headers })), 40103);
    assert.equal(refusedCode(verifyDuoSignature({ ...base, path: '/auth/v2/auth', params, headers })), 40103);
    const old = { authorization, date: new Date(Date.now() - 3_600_000).toUTCString() };
    assert.equal(refusedCode(verifyDuoSignature({ ...base, params, headers: old })), 40103);
    assert.equal(refusedCode(verifyDuoSignature({ ...base, params, headers: { date } })), 40101);
  });

  it('accepts HMAC-SHA1, the older form of signature v2', async () => {
    const { createHmac } = await import('node:crypto');
    const canon = [date, 'POST', host, base.path, 'realname=First%20Last&username=root'].join('\n');
    const sig = createHmac('sha1', skey).update(canon).digest('hex');
    const authorization = `Basic ${Buffer.from(`${ikey}:${sig}`).toString('base64')}`;
    assert.deepEqual(verifyDuoSignature({ ...base, params, headers: { authorization, date } }), {
      ok: true,
      hmac: 'sha1',
    });
  });
});

describe('a child process reaches the local Duo through the preload', () => {
  it('runs the unmodified client in a child and the server sees its signed request', async () => {
    const before = duo.requests.length;
    const script = [
      "const duoUrl = new URL('./integrations/duo.ts', 'file://' + process.cwd() + '/');",
      'const { createDuoSecondFactor } = await import(duoUrl.href);',
      'const e = process.env;',
      'const sf = createDuoSecondFactor({ ikey: e.DUO_IKEY, skey: e.DUO_SKEY, host: e.DUO_HOST });',
      'console.log(JSON.stringify(await sf.preauth("alice")));',
    ].join('\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...duo.childArgs(), '--input-type=module', '-e', script],
      { env: { ...process.env, ...duo.childEnv() }, timeout: 20_000 },
    );
    assert.deepEqual(JSON.parse(stdout.trim()), { ok: true, device: 'DPFZRS9FB0D46QFTM891' });
    const seen = duo.requests.slice(before);
    assert.deepEqual(
      seen.map((r) => [r.path, r.signature]),
      [['/auth/v2/preauth', 'ok']],
    );
  });
});
