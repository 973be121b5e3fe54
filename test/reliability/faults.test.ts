/**
 * Faults from the outside world, injected at the wire: Slack (the local Slack server's `failNext`), Duo
 * (`duo.fail`), PagerDuty (`failNext` / `dropNext`), DynamoDB and SQS (a fault proxy in front of dynalite and
 * local-aws-sqs answering with AWS's own error shapes or dropping the connection). For each fault secbot
 * must not crash (the next run works), lose nothing (the record is decided, the page lands, the message is
 * redelivered), fail closed (a human it cannot confirm escalates), and log a line that names the fault.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeMessage } from '../../cloudtrail/decode.js';
import { NOT_RECORDED } from '../../listeners/actions/verification-no.js';
import { ACTION_YES } from '../../views/question.js';
import { alertCall, notifyCall } from '../helpers/events.js';
import { dynamoError, type FaultProxy, sqsError, startFaultProxy } from '../helpers/fault-proxy.js';
import { FIXTURE_RULES } from '../helpers/pipeline.js';
import { ALERT_CHANNEL, type RunningSecbot, STAFF, startWorld, type World } from '../helpers/world.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let world: World;
let dynamoProxy: FaultProxy;
let sqsProxy: FaultProxy;
let bot: RunningSecbot;

/** The environment of a bot that reaches DynamoDB and SQS through the fault proxies. */
const proxied = () => ({
  AWS_ENDPOINT_URL_DYNAMODB: dynamoProxy.endpoint,
  AWS_ENDPOINT_URL_SQS: sqsProxy.endpoint,
  SECBOT_LOG_LEVEL: 'warn',
  SECBOT_DUO_TIMEOUT: '3s',
  // Redelivery after a fault within the test's patience.
  SECBOT_VISIBILITY_TIMEOUT: '2s',
});

before(async () => {
  world = await startWorld();
  [dynamoProxy, sqsProxy] = await Promise.all([
    startFaultProxy(world.dynamo.endpoint),
    startFaultProxy(world.sqs.endpoint),
  ]);
  bot = await world.startSecbot(proxied(), { slack: { timeoutMs: 1_000 } });
});
after(async () => {
  await world?.stop();
  await Promise.allSettled([dynamoProxy?.stop(), sqsProxy?.stop()]);
});

/** Log lines written from now on; `expect(re)` waits for one matching `re`. */
function logsFromNow(b: RunningSecbot = bot) {
  const start = b.logs.length;
  const lines = () => b.logs.slice(start);
  return {
    lines,
    async expect(re: RegExp, timeoutMs = 10_000): Promise<string> {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines().find((l) => re.test(l));
        if (hit) return hit;
        if (Date.now() > until) assert.fail(`no log line matches ${re}; logged:\n${lines().join('')}`);
        await sleep(50);
      }
    },
  };
}

/** Enqueue a notify call for a new engineer `name`, run once, and return the DM and the verification. */
async function ask(b: RunningSecbot, name: string, duo: Parameters<World['engineer']>[1] = 'allow') {
  const user = world.engineer(name, duo);
  const record = notifyCall(name);
  await b.enqueue(record);
  await b.secbot.runOnce();
  const channel = world.slack.dmChannelId(user);
  const dm = await world.slack.waitForMessage(channel, (m) =>
    JSON.stringify(m.blocks ?? []).includes(ACTION_YES),
  );
  const v = await b.secbot.store.findOpenVerification(user);
  assert.ok(v, `an open verification for ${user}`);
  return { user, channel, dm, verificationId: v.id, record };
}

/** Run until PagerDuty has accepted a trigger for `dedupKey` (the sweep retries with backoff). */
async function pageLands(b: RunningSecbot, dedupKey: string, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (world.pagerduty.eventsFor(dedupKey).filter((e) => e.event_action === 'trigger').length === 0) {
    if (Date.now() > until) assert.fail(`no page for ${dedupKey}`);
    await b.secbot.runOnce();
    await sleep(250);
  }
  return world.pagerduty.eventsFor(dedupKey);
}

/** The page of the alert holding an alert call (its id is the burst's: handlers/alert-bursts.ts). */
async function callPaged(b: RunningSecbot, eventId: string, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const dedupKey = world.pagerduty.dedupKeyOfCall(eventId);
    if (dedupKey) return { dedupKey, events: world.pagerduty.eventsFor(dedupKey) };
    if (Date.now() > until) assert.fail(`no page names ${eventId}`);
    await b.secbot.runOnce();
    await sleep(250);
  }
}

/**
 * Deliver a click to every Socket Mode connection: the local Slack hands envelopes out round-robin, and
 * while a second bot runs only the one whose table holds the question can act (the other answers that the
 * question no longer exists, and changes nothing).
 */
async function clickOnEveryBot(opts: Parameters<World['slack']['sendBlockAction']>[0]) {
  const n = Math.max(1, world.slack.connections);
  for (let i = 0; i < n; i++) await world.slack.sendBlockAction(opts);
}

/** runOnce until `done()` holds (redelivery waits for the visibility timeout). */
async function runUntil(done: () => Promise<boolean>, b: RunningSecbot = bot, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > until) assert.fail('condition not reached');
    await b.secbot.runOnce();
    await sleep(300);
  }
}

const dms = (channel: string) =>
  world.slack
    .messages(channel)
    .filter((m) => JSON.stringify(m.versions[0]?.blocks ?? []).includes(ACTION_YES));

describe('Slack faults', () => {
  it('429 with Retry-After: the DM is delivered after the wait, and the rate limit is logged', async () => {
    const log = logsFromNow();
    world.slack.failNext('users.lookupByEmail', { status: 429, retryAfterSeconds: 1 });
    const { channel } = await ask(bot, 'ratelimited');
    assert.equal(dms(channel).length, 1);
    assert.ok(world.slack.callsTo('users.lookupByEmail').some((c) => c.status === 429));
    await log.expect(/rate limit was exceeded.*retry-after: 1/);
  });

  it('a 500 is retried: the DM lands once, and the failed attempt is logged', async () => {
    const log = logsFromNow();
    world.slack.failNext('chat.postMessage', { status: 500 });
    const { channel } = await ask(bot, 'fivehundred');
    assert.equal(dms(channel).length, 1);
    await log.expect(
      /slack: Web API call failed \(An HTTP protocol error occurred: statusCode = 500\); retrying/,
    );
  });

  it('a call that never answers times out and is retried; the sweep is not stalled', async () => {
    const log = logsFromNow();
    // Slack holds the answer for 15 s; secbot's 1 s timeout gives up and retries.
    world.slack.failNext('chat.postMessage', { delayMs: 15_000 });
    const t0 = Date.now();
    const { verificationId } = await ask(bot, 'slowslack');
    assert.ok(Date.now() - t0 < 15_000, 'the DM went out before the stalled call answered');
    assert.equal((await bot.secbot.store.getVerification(verificationId))?.dmStatus, 'sent');
    await log.expect(/slack: Web API call failed .*(timeout|aborted)/i);
  });

  it('Slack refusing the DM (ok:false) escalates: the security team is paged instead', async () => {
    const log = logsFromNow();
    const user = world.engineer('undeliverable');
    world.slack.failNext('chat.postMessage', { error: 'fatal_error' });
    await bot.enqueue(notifyCall('undeliverable'));
    await bot.secbot.runOnce(); // the DM fails
    await bot.secbot.runOnce(); // the sweep escalates the undeliverable question
    const [v] = await bot.secbot.store
      .listVerifications('ESCALATED', { newestFirst: true, limit: 50 })
      .then((l) => l.filter((x) => x.engineerKey === user));
    assert.ok(v, 'escalated');
    assert.match(v.escalationReason ?? '', /could not be delivered.*fatal_error/);
    await pageLands(bot, `a_${v.id}`);
    await log.expect(/question for U0UNDELIVERABLE could not be delivered/);
    await log.expect(/escalated \(dm_failed/);
  });

  it('users_not_found and a failing directory: the call escalates as unattributed, and the log says why', async () => {
    const log = logsFromNow();
    world.engineer('notfound');
    world.slack.failNext('users.lookupByEmail', { error: 'users_not_found' });
    const a = notifyCall('notfound');
    await bot.enqueue(a);
    await bot.secbot.runOnce();
    const [page] = (await callPaged(bot, a.eventID)).events;
    assert.match(
      JSON.stringify(page?.payload?.custom_details),
      /unattributed: no Slack user has the email notfound@example.com/,
    );
    await log.expect(/no Slack user has the email notfound@example.com; the call escalates as unattributed/);

    world.engineer('dirdown');
    world.slack.failNext('users.lookupByEmail', { error: 'internal_error' });
    const b = notifyCall('dirdown');
    await bot.enqueue(b);
    await bot.secbot.runOnce();
    const [page2] = (await callPaged(bot, b.eventID)).events;
    assert.match(JSON.stringify(page2?.payload?.custom_details), /Slack directory unavailable/);
    await log.expect(/lookup for .*dirdown failed; the call escalates/);
  });

  describe('with a missing alert channel and an identity map entry for a removed user', () => {
    let other: RunningSecbot;
    before(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'secbot-idmap-'));
      const map = join(dir, 'identity.yml');
      writeFileSync(map, '- principal: ghost\n  slack: U0GHOST\n');
      other = await world.startSecbot(
        { ...proxied(), SECBOT_ALERT_CHANNEL: 'C0GONE', SECBOT_IDENTITY_MAP: map },
        { slack: { timeoutMs: 1_000 } },
      );
    });
    after(async () => {
      await other?.stop();
    });

    it('user_not_found escalates; channel_not_found: the page still goes out, the log and /secbot status say so', async () => {
      const log = logsFromNow(other);
      const record = notifyCall('ghost');
      await other.enqueue(record);
      await other.secbot.runOnce();
      const paged = await callPaged(other, record.eventID);
      const [page] = paged.events;
      assert.match(JSON.stringify(page?.payload?.custom_details), /Slack user U0GHOST does not exist/);
      await log.expect(/user_not_found for U0GHOST \(check SECBOT_IDENTITY_MAP/);
      await log.expect(/cannot post in the alert channel C0GONE: .*channel_not_found/);
      assert.equal((await other.secbot.store.getAlert(paged.dedupKey))?.channelStatus, 'failed');

      for (let i = 0; i < world.slack.connections; i++)
        await world.slack.sendSlashCommand({ command: '/secbot', user: STAFF, text: 'status' });
      const status = await world.slack.waitForResponse((r) =>
        JSON.stringify(r.body).includes('refused the last alert'),
      );
      assert.match(
        JSON.stringify(status.body),
        /refused the last alert: Slack chat.postMessage failed: channel_not_found/,
      );
    });
  });
});

describe('invalid Slack tokens at start', () => {
  /** Run `node --import tsx app.ts` with `env`; resolve with its exit code and stderr. */
  function runApp(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'app.ts'], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...env,
        },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
  }

  const baseEnv = async () => {
    const queue = await world.sqs.createQueue();
    return {
      SLACK_API_URL: world.slack.apiUrl,
      SECBOT_QUEUE_URL: queue.url,
      AWS_ENDPOINT_URL_SQS: world.sqs.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: world.dynamo.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      SECBOT_TABLE: `secbot-auth-${Date.now()}`,
      SECBOT_RULES: FIXTURE_RULES,
      SECBOT_ALERT_CHANNEL: ALERT_CHANNEL,
      SECBOT_DATA_DIR: mkdtempSync(join(tmpdir(), 'secbot-auth-')),
      SECBOT_LOG_LEVEL: 'error',
    };
  };

  it('a refused bot token or app token (invalid_auth) stops start-up with a message naming it, exit 1', async () => {
    const [bot, app] = await Promise.all([
      baseEnv().then((env) =>
        runApp({
          ...env,
          SLACK_BOT_TOKEN: 'xoxb-1-2-not-a-real-token',
          SLACK_APP_TOKEN: world.slack.appToken,
        }),
      ),
      baseEnv().then((env) =>
        runApp({
          ...env,
          SLACK_BOT_TOKEN: world.slack.botToken,
          SLACK_APP_TOKEN: 'xapp-1-A0-3-not-a-real-token',
        }),
      ),
    ]);
    assert.equal(bot.code, 1, bot.stderr);
    assert.match(
      bot.stderr,
      /secbot: cannot start: Slack refused to start the app \(invalid_auth\): check SLACK_BOT_TOKEN/,
    );
    assert.equal(app.code, 1, app.stderr);
    assert.match(app.stderr, /Slack refused to start the app \(invalid_auth\).*SLACK_APP_TOKEN/);
  });
});

describe('Duo faults', () => {
  for (const [name, fault, path, logged] of [
    ['duo5xx', { kind: '5xx', status: 503 }, '/auth/v2/preauth', /duo preauth failed: Internal server error/],
    ['duohtml', { kind: 'non_json' }, '/auth/v2/auth', /duo push failed: answer is not JSON/],
    ['duodrop', { kind: 'drop' }, '/auth/v2/preauth', /duo preauth failed: network error/],
  ] as const) {
    it(`${fault.kind} on ${path}: the Yes escalates (fail closed) and the log names the Duo failure`, async () => {
      const log = logsFromNow();
      const { user, channel, dm, verificationId } = await ask(bot, name);
      world.duo.fail(fault, { times: 1, path });
      await world.slack.sendBlockAction({ user, action_id: ACTION_YES, channel, message_ts: dm.ts });
      const v = await bot.waitForState(verificationId, 'ESCALATED');
      assert.match(v.escalationReason ?? '', /Duo could not be reached/);
      await log.expect(logged);
      await log.expect(/escalated \(duo_error/);
      await pageLands(bot, `a_${verificationId}`);
    });
  }

  it('a slow Duo within its timeout still confirms; one slower than SECBOT_DUO_TIMEOUT escalates', async () => {
    const a = await ask(bot, 'duoslowok');
    world.duo.fail({ kind: 'slow', delayMs: 1_500 }, { times: 1, path: '/auth/v2/preauth' });
    await world.slack.sendBlockAction({
      user: a.user,
      action_id: ACTION_YES,
      channel: a.channel,
      message_ts: a.dm.ts,
    });
    await bot.waitForState(a.verificationId, 'CONFIRMED');

    const log = logsFromNow();
    const b = await ask(bot, 'duoslowbad');
    world.duo.fail({ kind: 'slow', delayMs: 6_000 }, { times: 1, path: '/auth/v2/auth_status' });
    await world.slack.sendBlockAction({
      user: b.user,
      action_id: ACTION_YES,
      channel: b.channel,
      message_ts: b.dm.ts,
    });
    const v = await bot.waitForState(b.verificationId, 'ESCALATED', 10_000);
    assert.match(v.escalationReason ?? '', /not answered in time/);
    await log.expect(/escalated \(duo_timeout/);
  });

  it('wrong signature (a bad DUO_SKEY): every Yes escalates and the log says to check DUO_SKEY', async () => {
    const wrong = await world.startSecbot({ ...proxied(), DUO_SKEY: 'x'.repeat(40) });
    try {
      const log = logsFromNow(wrong);
      const { user, channel, dm, verificationId } = await ask(wrong, 'duobadkey');
      await clickOnEveryBot({ user, action_id: ACTION_YES, channel, message_ts: dm.ts });
      const v = await wrong.waitForState(verificationId, 'ESCALATED');
      assert.match(v.escalationReason ?? '', /Invalid signature/);
      await log.expect(/invalid signature: check DUO_SKEY and the system clock/);
    } finally {
      await wrong.stop();
    }
  });
});

describe('PagerDuty faults', () => {
  it('429, 500 and a dropped connection: each page is retried with its dedup_key until it lands, once', async () => {
    const log = logsFromNow();
    world.pagerduty.failNext({ status: 429, retryAfterSeconds: 1 });
    world.pagerduty.failNext({ status: 500 });
    world.pagerduty.dropNext(1);
    const records = [alertCall('pd1'), alertCall('pd2'), alertCall('pd3')];
    await bot.enqueue(...records);
    await bot.secbot.runOnce();
    for (const r of records) {
      const { events } = await callPaged(bot, r.eventID);
      assert.equal(events.filter((e) => e.event_action === 'trigger').length, 1, 'accepted once');
    }
    await log.expect(/pagerduty trigger failed: rate limited \(429\)/);
    await log.expect(/pagerduty trigger failed: PagerDuty error 500/);
    await log.expect(/pagerduty trigger failed: network error/);
    await log.expect(/retrying with the same dedup_key/);
  });
});

describe('DynamoDB faults', () => {
  const WRITES = /\.(PutItem|UpdateItem|DeleteItem|BatchWriteItem|TransactWriteItems)$/;
  const throttle = dynamoError('ProvisionedThroughputExceededException');

  it('throttling the SDK absorbs: the record is decided as if nothing happened', async () => {
    dynamoProxy.failNext('DynamoDB_20120810.UpdateItem', throttle, { times: 2 });
    const { verificationId } = await ask(bot, 'throttledonce');
    assert.ok(verificationId);
    assert.ok(dynamoProxy.faulted('DynamoDB_20120810.UpdateItem').length >= 2);
  });

  it('throttling beyond the retries: the message stays on the queue, the log says so, the next run decides it once', async () => {
    const log = logsFromNow();
    const user = world.engineer('throttled');
    const record = notifyCall('throttled');
    // Every write that carries this record (whichever item the store writes first) is throttled.
    dynamoProxy.failNext('*', throttle, {
      times: Number.POSITIVE_INFINITY,
      where: (body, target) => WRITES.test(target) && body.includes(record.eventID),
    });
    await bot.enqueue(record);
    await bot.secbot.runOnce();
    await log.expect(/ProvisionedThroughputExceeded/);
    await log.expect(/stay on the queue for redelivery|stays for redelivery/);
    assert.equal(await bot.secbot.store.findOpenVerification(user), undefined, 'nothing decided yet');
    dynamoProxy.clear();
    // Redelivered once its visibility runs out (a slow batch extends it), then decided.
    await runUntil(async () => (await bot.secbot.store.findOpenVerification(user)) !== undefined);
    const channel = world.slack.dmChannelId(user);
    await runUntil(async () => dms(channel).length > 0);
    assert.equal(dms(channel).length, 1);
    assert.equal((await bot.secbot.store.findOpenVerification(user))?.callCount, 1);
  });

  it('a spurious conditional failure is checked against the real state: the Yes still goes through, once', async () => {
    const { user, channel, dm, verificationId } = await ask(bot, 'condfail');
    dynamoProxy.failNext('DynamoDB_20120810.UpdateItem', dynamoError('ConditionalCheckFailedException'), {
      times: 2,
      where: (body) => body.includes('DUO_PENDING'),
    });
    await world.slack.sendBlockAction({ user, action_id: ACTION_YES, channel, message_ts: dm.ts });
    await bot.waitForState(verificationId, 'CONFIRMED');
    assert.equal(
      dynamoProxy.faulted('DynamoDB_20120810.UpdateItem').filter((r) => r.status === 400).length >= 2,
      true,
    );
    assert.equal(
      world.duo.pushes().filter((p) => p.pushinfo?.secbot === verificationId).length,
      1,
      'one push',
    );
  });

  it('DynamoDB failing while the engineer answers: they are told to press again; nothing is lost', async () => {
    const { user, channel, dm, verificationId } = await ask(bot, 'answerthrottled');
    const log = logsFromNow();
    // A 500 rather than throttling: the SDK backs off 5× less, and the outcome is the same StoreError.
    dynamoProxy.failNext('DynamoDB_20120810.UpdateItem', dynamoError('InternalServerError'), {
      times: Number.POSITIVE_INFINITY,
      where: (body) => body.includes('DUO_PENDING'),
    });
    await world.slack.sendBlockAction({ user, action_id: ACTION_YES, channel, message_ts: dm.ts });
    await world.slack.waitForResponse(
      (r) => r.user === user && JSON.stringify(r.body).includes('could not record'),
      15_000,
    );
    assert.equal(NOT_RECORDED.includes('press the button again'), true);
    await log.expect(/on v_\w+ by U0ANSWERTHROTTLED failed; the engineer is asked to press it again/);
    assert.equal((await bot.secbot.store.getVerification(verificationId))?.state, 'OPEN');
    dynamoProxy.clear();
    await world.slack.sendBlockAction({ user, action_id: ACTION_YES, channel, message_ts: dm.ts });
    await bot.waitForState(verificationId, 'CONFIRMED');
  });
});

describe('SQS faults', () => {
  it('receive errors (500 InternalError, then QueueDoesNotExist): the run stops with a log line naming the error; the next run receives', async () => {
    const log = logsFromNow();
    const user = world.engineer('recvfail');
    const record = notifyCall('recvfail');
    await bot.enqueue(record);
    sqsProxy.failNext('AmazonSQS.ReceiveMessage', sqsError('InternalError'), {
      times: Number.POSITIVE_INFINITY,
    });
    await bot.secbot.runOnce();
    const line = await log.expect(/drain: receive failed; the run stops and the next one retries/);
    assert.match(line, /SQS ReceiveMessage on .* failed: .*(InternalError|internal error)/i);
    sqsProxy.clear();
    sqsProxy.failNext('AmazonSQS.ReceiveMessage', sqsError('QueueDoesNotExist'), {
      times: Number.POSITIVE_INFINITY,
    });
    await bot.secbot.runOnce();
    await log.expect(/SQS ReceiveMessage on .* failed: .*(QueueDoesNotExist|does not exist)/);
    sqsProxy.clear();
    assert.equal(await bot.secbot.store.findOpenVerification(user), undefined);
    await bot.secbot.runOnce();
    assert.ok(await bot.secbot.store.findOpenVerification(user), 'decided on the next run');
  });

  it('delete errors: the message comes back and is absorbed as a duplicate — one DM, one verification, queue empty', async () => {
    const log = logsFromNow();
    const user = world.engineer('delfail');
    const record = notifyCall('delfail');
    await bot.enqueue(record);
    sqsProxy.failNext('AmazonSQS.DeleteMessageBatch', { kind: 'drop' }, { times: Number.POSITIVE_INFINITY });
    await bot.secbot.runOnce();
    await log.expect(/drain: delete failed; redelivered messages will be absorbed as duplicates/);
    sqsProxy.clear();
    await runUntil(async () => {
      const stats = await bot.queue.queue.stats();
      return stats.visible + stats.inFlight === 0;
    });
    // local-aws-sqs counts each visibility extension as a receive, so a message can reach the dead-letter
    // queue here; whatever did must be a record already decided (a duplicate), never one lost.
    for (const m of await bot.queue.deadLetter.receive({ max: 10, waitSeconds: 0 })) {
      const decoded = decodeMessage(m.body);
      assert.ok(decoded.ok);
      for (const r of decoded.records)
        assert.equal((await bot.secbot.store.getEventClaim(r.eventID))?.status, 'decided');
    }
    const v = await bot.secbot.store.findOpenVerification(user);
    assert.equal(v?.callCount, 1);
    assert.equal(dms(world.slack.dmChannelId(user)).length, 1);
  });
});
