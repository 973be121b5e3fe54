/**
 * `secbot doctor` against the local Slack, SQS (local-aws-sqs), DynamoDB (dynalite), Duo and PagerDuty:
 * all green on a good deployment; a refused Slack token, a missing table and wrong Duo keys each give a
 * FAIL line with its fix.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_MANIFEST, requiredBotScopes, runDoctorCommand } from '../../cli/doctor.js';
import { ensureTable } from '../../store/table.js';
import { type DuoServer, startDuoServer } from '../helpers/duo-server.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';
import { type PagerDutyServer, startPagerDutyServer } from '../helpers/pagerduty-server.js';
import { FIXTURE_RULES } from '../helpers/pipeline.js';
import { type SlackServer, startSlackServer } from '../helpers/slack-server.js';
import { startSqsServer, type TestSqsServer } from '../helpers/sqs-server.js';

/**
 * Slack reports a token's scopes in the x-oauth-scopes header of every answer; the local Slack server
 * does not, so this forwards to it and adds the header, as Slack would for a token with `scopes`.
 */
async function withScopes(
  target: string,
  scopes: () => string[],
): Promise<{ apiUrl: string; stop(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && k !== 'host') headers[k] = v;
    const answer = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers,
      body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
    });
    res.writeHead(answer.status, {
      'content-type': answer.headers.get('content-type') ?? 'application/json',
      'x-oauth-scopes': scopes().join(','),
    });
    res.end(Buffer.from(await answer.arrayBuffer()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

let slack: SlackServer;
let scoped: Awaited<ReturnType<typeof withScopes>>;
let grantedScopes: string[];
let sqs: TestSqsServer;
let dynamo: TestDynamo;
let duo: DuoServer;
let pagerduty: PagerDutyServer;
let env: Record<string, string>;

before(async () => {
  const manifest = await requiredBotScopes(DEFAULT_MANIFEST);
  assert.ok(manifest.scopes, manifest.problem);
  grantedScopes = manifest.scopes;
  [slack, sqs, dynamo, duo, pagerduty] = await Promise.all([
    startSlackServer(),
    startSqsServer(),
    startTestDynamo(),
    startDuoServer(),
    startPagerDutyServer(),
  ]);
  scoped = await withScopes(slack.url, () => grantedScopes);
  const queue = await sqs.createQueue();
  const table = `secbot-doctor-${randomUUID().slice(0, 8)}`;
  await ensureTable(dynamo.client, table, { expectTtl: false });
  env = {
    SLACK_BOT_TOKEN: slack.botToken,
    SLACK_APP_TOKEN: slack.appToken,
    SLACK_API_URL: scoped.apiUrl,
    SECBOT_ALERT_CHANNEL: 'C0ALERTS',
    SECBOT_STAFF: 'U0STAFF',
    SECBOT_QUEUE_URL: queue.url,
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    SECBOT_TABLE: table,
    DUO_IKEY: duo.ikey,
    DUO_SKEY: duo.skey,
    DUO_HOST: duo.host,
    PAGERDUTY_ROUTING_KEY: pagerduty.routingKey,
    PAGERDUTY_EVENTS_URL: pagerduty.eventsUrl,
    SECBOT_RULES: FIXTURE_RULES,
  };
});

after(async () => {
  await scoped?.stop();
  await Promise.allSettled([slack?.stop(), sqs?.stop(), dynamo?.stop(), duo?.stop(), pagerduty?.stop()]);
});

interface Line {
  status: string;
  name: string;
  detail: string;
  fix?: string;
}

/** Run the command in this process (so the local Duo's forwarding applies) and parse its table. */
async function doctor(overrides: Record<string, string> = {}, opts: { sendTestPage?: boolean } = {}) {
  let out = '';
  const code = await runDoctorCommand({ env: { ...env, ...overrides }, write: (t) => (out += t), ...opts });
  const lines: Line[] = [];
  for (const l of out.split('\n')) {
    const fix = /^\s+fix: (.*)$/.exec(l);
    if (fix && lines.length > 0) (lines.at(-1) as Line).fix = fix[1];
    const row = /^(ok|WARN|FAIL)\s+(.+?)\s{2,}(.*)$/.exec(l);
    if (row) lines.push({ status: row[1] as string, name: row[2] as string, detail: row[3] as string });
  }
  const line = (name: string) => {
    const found = lines.find((l) => l.name === name);
    assert.ok(found, `no "${name}" line in:\n${out}`);
    return found;
  };
  return { code, out, lines, line };
}

describe('secbot doctor', () => {
  it('is all green on a good deployment (dynalite cannot enable TTL, so that one warns)', async () => {
    const r = await doctor();
    const notOk = r.lines.filter((l) => l.status !== 'ok' && l.name !== 'table ttl');
    assert.deepEqual(notOk, [], r.out);
    assert.equal(r.code, 0);
    for (const name of [
      'configuration',
      'slack bot token',
      'slack scopes',
      'slack socket mode',
      'queue',
      'table',
      'duo',
      'pagerduty',
      'rules',
    ]) {
      assert.equal(r.line(name).status, 'ok', name);
    }
    assert.equal(r.line('table ttl').status, 'WARN');
    assert.match(r.line('table ttl').fix ?? '', /enable TTL on attribute ttl/);
    assert.match(r.line('queue').detail, /dead-letter queue empty/);
    assert.match(r.line('rules').detail, /^3 rules from /);
    assert.ok(slack.callsTo('auth.test').length > 0 && slack.callsTo('apps.connections.open').length > 0);
    assert.equal(pagerduty.events.length, 0, 'no page unless asked');
    assert.match(r.out, /doctor: \d+ ok, 1 warnings, 0 failed/);
  });

  it('fails a refused bot token, saying which token to replace and where', async () => {
    const r = await doctor({ SLACK_BOT_TOKEN: 'xoxb-0000-refused' });
    assert.equal(r.code, 1);
    const line = r.line('slack bot token');
    assert.equal(line.status, 'FAIL');
    assert.match(line.detail, /invalid_auth/);
    assert.match(line.fix ?? '', /SLACK_BOT_TOKEN.*Bot User OAuth Token \(xoxb-…\)/);
    assert.equal(r.line('slack scopes').status, 'WARN');
    assert.equal(r.line('slack socket mode').status, 'ok', 'the app token is still checked');
  });

  it('fails a bot token that lacks a scope of manifest.yml, naming it', async () => {
    const saved = grantedScopes;
    grantedScopes = saved.filter((s) => s !== 'users:read.email');
    try {
      const r = await doctor();
      const line = r.line('slack scopes');
      assert.equal(line.status, 'FAIL');
      assert.match(line.detail, /lacks users:read\.email/);
      assert.match(line.fix ?? '', /manifest\.yml.*reinstall/);
    } finally {
      grantedScopes = saved;
    }
  });

  it('fails a refused app-level token with the Socket Mode fix', async () => {
    const r = await doctor({ SLACK_APP_TOKEN: 'xapp-1-refused' });
    const line = r.line('slack socket mode');
    assert.equal(line.status, 'FAIL');
    assert.match(line.fix ?? '', /SLACK_APP_TOKEN.*connections:write/);
  });

  it('fails a missing table, pointing at the hub module', async () => {
    const r = await doctor({ SECBOT_TABLE: 'secbot-no-such-table' });
    assert.equal(r.code, 1);
    const line = r.line('table');
    assert.equal(line.status, 'FAIL');
    assert.match(line.detail, /table secbot-no-such-table does not exist in us-east-1/);
    assert.match(line.fix ?? '', /terraform\/modules\/hub/);
  });

  it('fails wrong Duo keys, saying to copy both keys from the Auth API application', async () => {
    const r = await doctor({ DUO_SKEY: 'x'.repeat(40) });
    assert.equal(r.code, 1);
    const line = r.line('duo');
    assert.equal(line.status, 'FAIL');
    assert.match(line.fix ?? '', /DUO_IKEY and DUO_SKEY do not match.*Auth API application/);
  });

  it('fails a missing queue and a queue without a dead-letter queue', async () => {
    const missing = await doctor({ SECBOT_QUEUE_URL: `${sqs.endpoint}/000000000000/no-such-queue` });
    assert.equal(missing.line('queue').status, 'FAIL');
    assert.match(missing.line('queue').fix ?? '', /SECBOT_QUEUE_URL/);

    const bare = await sqs.client.send(
      new (await import('@aws-sdk/client-sqs')).CreateQueueCommand({
        QueueName: `bare-${randomUUID().slice(0, 8)}`,
      }),
    );
    const noDlq = await doctor({ SECBOT_QUEUE_URL: bare.QueueUrl ?? '' });
    assert.equal(noDlq.line('queue').status, 'FAIL');
    assert.match(noDlq.line('queue').detail, /no dead-letter queue/);
  });

  it('fails a routing key that is not an Events API v2 key, and a broken ruleset', async () => {
    const r = await doctor({
      PAGERDUTY_ROUTING_KEY: 'u+abc-rest-api-key',
      SECBOT_RULES: '/nonexistent-rules',
    });
    assert.equal(r.line('pagerduty').status, 'FAIL');
    assert.match(r.line('pagerduty').detail, /32 letters and digits/);
    assert.equal(r.line('rules').status, 'FAIL');
    assert.match(r.line('rules').detail, /cannot read rules folder/);
  });

  it('sends and resolves a test page only with --send-test-page', async () => {
    const r = await doctor({}, { sendTestPage: true });
    assert.equal(r.line('pagerduty test page').status, 'ok');
    const actions = pagerduty.events.map((e) => (e as { event_action?: string }).event_action);
    assert.deepEqual(actions, ['trigger', 'resolve']);
  });

  it('stops at a bad variable with one FAIL line naming it', async () => {
    const r = await doctor({ SECBOT_VERIFY_TIMEOUT: '15x' });
    assert.equal(r.code, 1);
    assert.equal(r.lines.length, 1);
    assert.match(r.line('configuration').detail, /SECBOT_VERIFY_TIMEOUT/);
    assert.match(r.line('configuration').fix ?? '', /set SECBOT_VERIFY_TIMEOUT/);
  });
});
