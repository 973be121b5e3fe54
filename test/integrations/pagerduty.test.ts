// The PagerDuty pager against a local Events API v2 endpoint over loopback, with node:http.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createPagerDutyPager, type Pager, truncate } from '../../integrations/pagerduty.js';
import { type PagerDutyServer, startPagerDutyServer } from '../helpers/pagerduty-server.js';

let pd: PagerDutyServer;
let pager: Pager;
const logLines: string[] = [];

before(async () => {
  pd = await startPagerDutyServer();
  const stream = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  pager = createPagerDutyPager({
    routingKey: pd.routingKey,
    eventsUrl: pd.eventsUrl,
    timeoutMs: 1000,
    logger: pino({ level: 'info' }, stream),
  });
});
after(() => pd.stop());

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Sequential: the scripted faults apply to "the next request".
describe('createPagerDutyPager', () => {
  it('triggers with the exact Events API v2 body and returns the dedup_key', async () => {
    const r = await pager.trigger({
      dedupKey: 'alert-1',
      summary: 'Security group sg-1 opened 22/tcp to 0.0.0.0/0',
      severity: 'critical',
      source: 'secbot',
      component: 'cloudtrail',
      group: 'sg-open-world',
      class: 'alert',
      customDetails: { eventIDs: ['e-1', 'e-2'], account: '123456789012' },
      links: [{ href: 'https://slack.example/archives/C1/p1', text: 'Alert in Slack' }],
    });
    assert.deepEqual(r, { ok: true, dedupKey: 'alert-1' });
    assert.deepEqual(JSON.parse(pd.requests.at(-1)?.body ?? ''), {
      routing_key: pd.routingKey,
      event_action: 'trigger',
      dedup_key: 'alert-1',
      payload: {
        summary: 'Security group sg-1 opened 22/tcp to 0.0.0.0/0',
        source: 'secbot',
        severity: 'critical',
        component: 'cloudtrail',
        group: 'sg-open-world',
        class: 'alert',
        custom_details: { eventIDs: ['e-1', 'e-2'], account: '123456789012' },
      },
      links: [{ href: 'https://slack.example/archives/C1/p1', text: 'Alert in Slack' }],
      client: 'secbot',
    });
  });

  it('leaves optional payload fields and empty links out of a trigger', async () => {
    await pager.trigger({
      dedupKey: 'alert-min',
      summary: 's',
      severity: 'info',
      source: 'secbot',
      links: [],
    });
    assert.deepEqual(JSON.parse(pd.requests.at(-1)?.body ?? ''), {
      routing_key: pd.routingKey,
      event_action: 'trigger',
      dedup_key: 'alert-min',
      payload: { summary: 's', source: 'secbot', severity: 'info' },
      client: 'secbot',
    });
  });

  it('acknowledges and resolves with routing_key, dedup_key and event_action only', async () => {
    assert.deepEqual(await pager.acknowledge('alert-1'), { ok: true, dedupKey: 'alert-1' });
    assert.deepEqual(JSON.parse(pd.requests.at(-1)?.body ?? ''), {
      routing_key: pd.routingKey,
      dedup_key: 'alert-1',
      event_action: 'acknowledge',
    });
    assert.deepEqual(await pager.resolve('alert-1'), { ok: true, dedupKey: 'alert-1' });
    assert.deepEqual(JSON.parse(pd.requests.at(-1)?.body ?? ''), {
      routing_key: pd.routingKey,
      dedup_key: 'alert-1',
      event_action: 'resolve',
    });
    assert.deepEqual(
      pd.eventsFor('alert-1').map((e) => e.event_action),
      ['trigger', 'acknowledge', 'resolve'],
    );
  });

  it('429 with Retry-After is retryable with retryAfterMs', async () => {
    pd.failNext({ status: 429, retryAfterSeconds: 30 });
    const r = await pager.trigger({
      dedupKey: 'alert-429',
      summary: 's',
      severity: 'error',
      source: 'secbot',
    });
    assert.equal(r.ok, false);
    assert.deepEqual(!r.ok && { retryable: r.retryable, retryAfterMs: r.retryAfterMs }, {
      retryable: true,
      retryAfterMs: 30_000,
    });
    assert.match(!r.ok ? r.reason : '', /rate limited \(429\)/);
    // The retry with the same dedup_key lands.
    assert.deepEqual(
      await pager.trigger({ dedupKey: 'alert-429', summary: 's', severity: 'error', source: 'secbot' }),
      {
        ok: true,
        dedupKey: 'alert-429',
      },
    );
    assert.equal(pd.eventsFor('alert-429').length, 1);
  });

  it('429 without Retry-After is retryable without retryAfterMs', async () => {
    pd.failNext({ status: 429 });
    const r = await pager.resolve('alert-x');
    assert.ok(!r.ok && r.retryable && r.retryAfterMs === undefined);
  });

  it('500 is retryable', async () => {
    pd.failNext({ status: 500 });
    const r = await pager.trigger({
      dedupKey: 'alert-500',
      summary: 's',
      severity: 'error',
      source: 'secbot',
    });
    assert.ok(!r.ok && r.retryable, JSON.stringify(r));
    assert.match(!r.ok ? r.reason : '', /PagerDuty error 500/);
  });

  it('400 (invalid event) is not retryable and says why', async () => {
    const wrongKey = createPagerDutyPager({ routingKey: 'short', eventsUrl: pd.eventsUrl });
    const r = await wrongKey.trigger({
      dedupKey: 'alert-400',
      summary: 's',
      severity: 'error',
      source: 'secbot',
    });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.retryable, false);
    assert.match(!r.ok ? r.reason : '', /refused with 400: Event object is invalid: Length of 'routing_key'/);
  });

  it('a dropped connection is a retryable network error', async () => {
    pd.dropNext();
    const r = await pager.trigger({
      dedupKey: 'alert-drop',
      summary: 's',
      severity: 'error',
      source: 'secbot',
    });
    assert.ok(!r.ok && r.retryable, JSON.stringify(r));
    assert.match(!r.ok ? r.reason : '', /network error/);
  });

  it('a closed port is a retryable network error', async () => {
    const port = await closedPort();
    const nowhere = createPagerDutyPager({
      routingKey: pd.routingKey,
      eventsUrl: `http://127.0.0.1:${port}/v2/enqueue`,
    });
    const r = await nowhere.trigger({
      dedupKey: 'alert-closed',
      summary: 's',
      severity: 'error',
      source: 'secbot',
    });
    assert.ok(!r.ok && r.retryable, JSON.stringify(r));
    assert.match(!r.ok ? r.reason : '', /network error: connect ECONNREFUSED .*\(ECONNREFUSED\)/);
  });

  it('no answer within timeoutMs is retryable', async () => {
    pd.delayNext(1500);
    const quick = createPagerDutyPager({
      routingKey: pd.routingKey,
      eventsUrl: pd.eventsUrl,
      timeoutMs: 200,
    });
    const started = Date.now();
    const r = await quick.trigger({
      dedupKey: 'alert-slow',
      summary: 's',
      severity: 'error',
      source: 'secbot',
    });
    assert.deepEqual(r, { ok: false, retryable: true, reason: 'no answer within 200 ms' });
    assert.ok(Date.now() - started < 1000);
  });

  it('truncates the summary to 1024 characters, which PagerDuty accepts', async () => {
    const long = `${'x'.repeat(1020)}😀😀😀😀😀`;
    const r = await pager.trigger({
      dedupKey: 'alert-long',
      summary: long,
      severity: 'warning',
      source: 'secbot',
    });
    assert.deepEqual(r, { ok: true, dedupKey: 'alert-long' });
    const summary = pd.eventsFor('alert-long')[0]?.payload?.summary ?? '';
    assert.ok(summary.length <= 1024, `length ${summary.length}`);
    assert.ok(summary.endsWith('…'));
    assert.ok(summary.startsWith('x'.repeat(1020)));
    assert.ok(!/[\uD800-\uDBFF]…$/.test(summary), 'no half surrogate pair before the ellipsis');
    assert.equal(truncate('short', 1024), 'short');
  });

  it('replaces custom_details over the 512 KB limit by a preview, so the page still lands', async () => {
    const customDetails = { eventIDs: ['e-big'], dump: 'y'.repeat(600 * 1024) };
    const r = await pager.trigger({
      dedupKey: 'alert-big',
      summary: 's',
      severity: 'error',
      source: 'secbot',
      customDetails,
    });
    assert.deepEqual(r, { ok: true, dedupKey: 'alert-big' });
    const details = pd.eventsFor('alert-big')[0]?.payload?.custom_details as {
      truncated: string;
      preview: string;
    };
    assert.match(details.truncated, /over the Events API's 512 KB limit/);
    assert.ok(details.preview.startsWith('{"eventIDs":["e-big"]'));
  });

  it('refuses a dedup_key PagerDuty would refuse, without sending it', async () => {
    const before = pd.requests.length;
    const r = await pager.trigger({
      dedupKey: 'k'.repeat(256),
      summary: 's',
      severity: 'info',
      source: 'secbot',
    });
    assert.ok(!r.ok && !r.retryable);
    assert.equal(pd.requests.length, before);
  });

  it('an event that cannot be serialised is a not-retryable failure, not a throw', async () => {
    const r = await pager.trigger({
      dedupKey: 'alert-bigint',
      summary: 's',
      severity: 'info',
      source: 'secbot',
      customDetails: { n: 10n },
    });
    assert.ok(!r.ok && !r.retryable);
  });

  it('never logs the routing key', () => {
    const all = logLines.join('');
    assert.ok(all.includes('pagerduty trigger failed'), 'failures were logged');
    assert.ok(!all.includes(pd.routingKey));
  });
});
