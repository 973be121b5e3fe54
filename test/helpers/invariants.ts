/**
 * Workloads for the crash and replica tests, and the delivery invariants of DESIGN.md checked against
 * what is left behind: the table (a full scan over the test's dynalite), the queue and its dead-letter
 * queue, and the records of the local Slack, Duo and PagerDuty servers.
 */
import assert from 'node:assert/strict';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { toEventBridgeEvent } from '../../integrations/enqueue.js';
import { fromItem, type Item } from '../../store/marshal.js';
import type { Store } from '../../store/store.js';
import type { Verification } from '../../store/types.js';
import { toVerification } from '../../store/verifications.js';
import { ACTION_NO, ACTION_YES } from '../../views/question.js';
import { alertCall, notifyCall } from './events.js';
import type { StoredMessage } from './slack-server.js';
import type { TestQueue } from './sqs-server.js';
import { ALERT_CHANNEL, type World } from './world.js';

export type Answer = 'yes' | 'no' | 'none';

export interface Engineer {
  name: string;
  /** Slack user id. */
  id: string;
  answer: Answer;
}

export interface Workload {
  engineers: Engineer[];
  /** notify eventID → the engineer's Slack id. */
  notify: Map<string, string>;
  /** eventIDs of alert-level calls. */
  alerts: string[];
  /** Bodies that cannot be decoded (they must end in the dead-letter queue, and only they). */
  poison: string[];
  /** Every message body, in sending order. */
  bodies: string[];
}

const POISON = [
  '{"detail-type":"AWS API Call via CloudTrail","detail":',
  'not json at all',
  '{"Records":"nope"}',
];

/**
 * `engineers` engineers (`<prefix>e00`…), `calls` notify calls spread over them round-robin, `alerts`
 * StopLogging calls by them, `poison` undecodable bodies; answers cycle yes, no, none (or `answers`).
 */
export function makeWorkload(
  world: World,
  opts: {
    prefix: string;
    engineers: number;
    calls: number;
    alerts: number;
    poison?: number;
    answers?: Answer[];
  },
): Workload {
  const cycle: Answer[] = opts.answers ?? ['yes', 'no', 'none'];
  const engineers: Engineer[] = [];
  for (let i = 0; i < opts.engineers; i++) {
    const name = `${opts.prefix}e${String(i).padStart(2, '0')}`;
    const answer = cycle[i % cycle.length] ?? 'none';
    const id = world.engineer(name, answer === 'yes' ? 'allow' : 'deny');
    engineers.push({ name, id, answer });
  }
  const notify = new Map<string, string>();
  const alerts: string[] = [];
  const bodies: string[] = [];
  const body = (r: ReturnType<typeof notifyCall>) => JSON.stringify(toEventBridgeEvent(r));
  const alertEvery =
    opts.alerts > 0 ? Math.max(1, Math.floor(opts.calls / opts.alerts)) : Number.POSITIVE_INFINITY;
  for (let i = 0; i < opts.calls; i++) {
    const e = engineers[i % engineers.length] as Engineer;
    const r = notifyCall(e.name);
    notify.set(r.eventID, e.id);
    bodies.push(body(r));
    if (alerts.length < opts.alerts && i % alertEvery === 0) {
      const a = alertCall(e.name);
      alerts.push(a.eventID);
      bodies.push(body(a));
    }
  }
  while (alerts.length < opts.alerts) {
    const a = alertCall((engineers[alerts.length % engineers.length] as Engineer).name);
    alerts.push(a.eventID);
    bodies.push(body(a));
  }
  const poison: string[] = [];
  for (let i = 0; i < (opts.poison ?? 0); i++) {
    const p = `${POISON[i % POISON.length]} #${opts.prefix}${i}`;
    poison.push(p);
    bodies.splice(Math.floor((bodies.length * (i + 1)) / ((opts.poison ?? 0) + 1)), 0, p);
  }
  return { engineers, notify, alerts, poison, bodies };
}

export async function enqueue(queue: TestQueue, bodies: string[]): Promise<void> {
  const { failed } = await queue.queue.sendBatch(bodies);
  assert.deepEqual(failed, [], 'every message enqueued');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `check` until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; onTimeout?: () => string } = {},
): Promise<T> {
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) {
      throw new Error(`timed out waiting for ${what}${opts.onTimeout ? `\n${opts.onTimeout()}` : ''}`);
    }
    await sleep(opts.intervalMs ?? 250);
  }
}

/** Every item of a table (consistent scan), unmarshalled. */
export async function scanTable(world: World, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Item | undefined;
  do {
    const page = await world.dynamo.client.send(
      new ScanCommand({ TableName: table, ExclusiveStartKey: start, ConsistentRead: true }),
    );
    for (const i of page.Items ?? []) items.push(fromItem(i));
    start = page.LastEvaluatedKey as Item | undefined;
  } while (start);
  return items;
}

/** The question messages in an engineer's DM (those carrying secbot's metadata). */
export function questionMessages(world: World, engineerId: string): StoredMessage[] {
  return world.slack
    .messages(world.slack.dmChannelId(engineerId))
    .filter((m) => (m.metadata as { event_type?: string } | undefined)?.event_type === 'secbot_verification');
}

const verificationOf = (m: StoredMessage) =>
  (m.metadata as { event_payload?: { verification_id?: string } } | undefined)?.event_payload
    ?.verification_id;

/** Successful chat.postMessage calls that posted a question, by verification id. */
export function questionPosts(world: World): Map<string, number> {
  const posts = new Map<string, number>();
  for (const c of world.slack.callsTo('chat.postMessage')) {
    if (c.status !== 200 || c.error) continue;
    const meta = c.params.metadata as { event_type?: string; event_payload?: { verification_id?: string } };
    if (meta?.event_type !== 'secbot_verification') continue;
    const id = meta.event_payload?.verification_id ?? '?';
    posts.set(id, (posts.get(id) ?? 0) + 1);
  }
  return posts;
}

/** Wait until every engineer has exactly one OPEN verification, DM'd and up to date (all calls shown). */
export async function waitForQuestions(
  store: Store,
  world: World,
  engineers: Engineer[],
  timeoutMs: number,
  diagnostics?: () => string,
): Promise<Map<string, Verification>> {
  return waitFor(
    `a question for each of ${engineers.length} engineers`,
    async () => {
      const open = await store.listVerifications('OPEN', { limit: 1000 });
      const byEngineer = new Map(open.map((v) => [v.engineerKey, v]));
      for (const e of engineers) {
        const v = byEngineer.get(e.id);
        if (v?.dmStatus !== 'sent' || v.needsUpdate || !v.dm) return undefined;
        const shown = world.slack.message(v.dm.channel, v.dm.ts);
        if (!shown || !JSON.stringify(shown.blocks ?? []).includes(`${v.id}:${v.callCount}`))
          return undefined;
      }
      return byEngineer;
    },
    { timeoutMs, intervalMs: 500, onTimeout: diagnostics },
  );
}

/** Click the engineer's answer on their question (the latest rendering of the DM). */
export async function answer(world: World, e: Engineer, v: Verification): Promise<void> {
  if (e.answer === 'none' || !v.dm) return;
  await world.slack.sendBlockAction({
    user: e.id,
    action_id: e.answer === 'yes' ? ACTION_YES : ACTION_NO,
    channel: v.dm.channel,
    message_ts: v.dm.ts,
    timeoutMs: 10_000,
  });
}

/** Wait until every listed event is decided (its claim says so). */
export async function waitForDecided(
  store: Store,
  eventIds: string[],
  timeoutMs: number,
  diagnostics?: () => string,
): Promise<void> {
  let left = [...eventIds];
  await waitFor(
    `${eventIds.length} events decided`,
    async () => {
      const claims = await Promise.all(left.map((id) => store.getEventClaim(id)));
      left = left.filter((_, i) => claims[i]?.status !== 'decided');
      return left.length === 0;
    },
    { timeoutMs, intervalMs: 300, onTimeout: () => `${left.length} not decided\n${diagnostics?.() ?? ''}` },
  );
}

/** Wait until nothing is left to do: no OPEN or DUO_PENDING verification, no page pending. */
export async function waitForQuiet(
  store: Store,
  timeoutMs: number,
  diagnostics?: () => string,
): Promise<void> {
  await waitFor(
    'every verification closed and every page sent',
    async () => {
      const [open, pending, pages] = await Promise.all([
        store.listVerifications('OPEN', { limit: 10 }),
        store.listVerifications('DUO_PENDING', { limit: 10 }),
        store.listDuePages(new Date(Date.now() + 86_400_000), 10),
      ]);
      return open.length === 0 && pending.length === 0 && pages.length === 0;
    },
    { timeoutMs, intervalMs: 500, onTimeout: diagnostics },
  );
}

/** Wait until the queue holds nothing and the dead-letter queue exactly the poison. */
export async function waitForDrained(
  queue: TestQueue,
  poison: number,
  timeoutMs: number,
  diagnostics?: () => string,
): Promise<void> {
  await waitFor(
    `the queue empty and ${poison} poison message(s) in the dead-letter queue`,
    async () => {
      const s = await queue.queue.stats();
      return s.visible + s.inFlight + s.delayed === 0 && (s.deadLetter?.visible ?? 0) === poison;
    },
    { timeoutMs, intervalMs: 500, onTimeout: diagnostics },
  );
}

export interface Figures {
  messages: number;
  notifyCalls: number;
  alertCalls: number;
  poison: number;
  engineers: number;
  verifications: number;
  questions: number;
  confirmed: number;
  escalated: number;
  duoPushes: number;
  alerts: number;
  pages: number;
  channelAlerts: number;
}

/**
 * The invariants, after everything settled:
 * 1. every workload call was decided (its claim is `decided`);
 * 2. every notify eventID is in exactly one verification, the engineer's, which the claim names;
 * 3. one verification per engineer for the burst, ending as the engineer answered
 *    (yes → CONFIRMED, no → ESCALATED by the engineer, none → ESCALATED for no answer);
 * 4. one question per verification: one chat.postMessage, one message in the DM — nobody was asked twice;
 * 5. one Duo push per Yes and none otherwise;
 * 6. every alert call and every escalation has its alert, paged exactly once per dedup_key, nothing else
 *    paged, and posted once in the alert channel;
 * 7. the queue is empty and the dead-letter queue holds exactly the poison.
 */
export async function checkInvariants(opts: {
  world: World;
  table: string;
  queue: TestQueue;
  workload: Workload;
}): Promise<Figures> {
  const { world, table, queue, workload } = opts;
  const items = await scanTable(world, table);
  const claims = new Map(items.filter((i) => i.entity === 'event').map((i) => [String(i.eventId), i]));
  const verifications = items.filter((i) => i.entity === 'verification').map(toVerification);
  const alerts = items.filter((i) => i.entity === 'alert');
  const callItems = new Set(
    items
      .filter((i) => i.entity === 'call')
      .map((i) => `${i.verificationId}/${(i.call as { eventId: string }).eventId}`),
  );

  // 1. decided
  for (const id of [...workload.notify.keys(), ...workload.alerts]) {
    assert.equal(claims.get(id)?.status, 'decided', `event ${id} decided`);
  }

  // 2. exactly one verification per notify call
  const holders = new Map<string, Verification[]>();
  for (const v of verifications) for (const e of v.eventIds) holders.set(e, [...(holders.get(e) ?? []), v]);
  for (const [eventId, engineer] of workload.notify) {
    const hs = holders.get(eventId) ?? [];
    assert.equal(
      hs.length,
      1,
      `notify call ${eventId} is in exactly one verification (in ${hs.map((v) => v.id)})`,
    );
    const [v] = hs as [Verification];
    assert.equal(v.engineerKey, engineer, `${eventId} is asked of its engineer`);
    const decision = claims.get(eventId)?.decision as { verificationId?: string } | undefined;
    assert.equal(decision?.verificationId, v.id, `the claim of ${eventId} names its verification`);
    assert.ok(callItems.has(`${v.id}/${eventId}`), `the call item of ${eventId} exists`);
  }
  const notifyIds = new Set(workload.notify.keys());
  for (const v of verifications) {
    for (const e of v.eventIds) assert.ok(notifyIds.has(e), `verification ${v.id} holds only workload calls`);
  }

  // 3. one verification per engineer, ending as answered
  for (const e of workload.engineers) {
    const mine = verifications.filter((v) => v.engineerKey === e.id);
    assert.equal(
      mine.length,
      1,
      `${e.name} has one verification for the burst (has ${mine.map((v) => v.id)})`,
    );
    const [v] = mine as [Verification];
    if (e.answer === 'yes') assert.equal(v.state, 'CONFIRMED', `${e.name} said yes and approved the push`);
    else {
      assert.equal(v.state, 'ESCALATED', `${e.name} (${e.answer}) escalated`);
      const kind = v.history.at(-1)?.reason ?? '';
      assert.match(kind, e.answer === 'no' ? /^denied_by_engineer/ : /^no_answer/, `${e.name}: ${kind}`);
    }
  }
  assert.equal(verifications.length, workload.engineers.length, 'no other verification exists');

  // 4. one question per verification
  const posts = questionPosts(world);
  for (const v of verifications) {
    assert.equal(posts.get(v.id) ?? 0, 1, `one chat.postMessage for the question ${v.id} (${v.engineerKey})`);
  }
  assert.equal(
    [...posts.values()].reduce((a, b) => a + b, 0),
    verifications.length,
    'no question posted for anything else',
  );
  for (const e of workload.engineers) {
    const shown = questionMessages(world, e.id);
    assert.equal(shown.length, 1, `${e.name} has one question in their DM (${shown.map(verificationOf)})`);
  }

  // 5. one Duo push per Yes
  const pushes = new Map<string, number>();
  for (const p of world.duo.pushes()) {
    const id = p.pushinfo?.secbot ?? '?';
    pushes.set(id, (pushes.get(id) ?? 0) + 1);
  }
  for (const v of verifications) {
    const e = workload.engineers.find((x) => x.id === v.engineerKey);
    assert.equal(pushes.get(v.id) ?? 0, e?.answer === 'yes' ? 1 : 0, `Duo pushes for ${v.id} (${e?.answer})`);
  }
  const duoPushes = [...pushes.values()].reduce((a, b) => a + b, 0);

  // 6. alerts: one per alert call and per escalation, each paged once
  const expected = new Set([
    ...workload.alerts.map((e) => `a_${e}`),
    ...verifications.filter((v) => v.state === 'ESCALATED').map((v) => `a_${v.id}`),
  ]);
  assert.deepEqual(
    new Set(alerts.map((a) => String(a.id))),
    expected,
    'one alert per alert call and escalation',
  );
  const triggers = new Map<string, number>();
  for (const t of world.pagerduty.triggers()) triggers.set(t.dedup_key, (triggers.get(t.dedup_key) ?? 0) + 1);
  for (const a of alerts) {
    assert.equal(a.pageStatus, 'sent', `alert ${a.id} paged`);
    assert.equal(triggers.get(String(a.id)) ?? 0, 1, `one PagerDuty trigger for dedup_key ${a.id}`);
  }
  assert.deepEqual(new Set(triggers.keys()), expected, 'nothing else was paged');
  const channel = world.slack.messages(ALERT_CHANNEL);
  for (const a of alerts) {
    const posted = channel.filter((m) => JSON.stringify(m.blocks ?? []).includes(String(a.id)));
    assert.equal(posted.length, 1, `alert ${a.id} posted once in the channel`);
  }

  // 7. the queue
  const stats = await queue.queue.stats();
  assert.equal(stats.visible + stats.inFlight + stats.delayed, 0, 'the queue is empty');
  const dead: string[] = [];
  for (let i = 0; i < 10 && dead.length < workload.poison.length; i++) {
    const got = await queue.deadLetter.receive({ max: 10, waitSeconds: 0, visibilityTimeoutSeconds: 30 });
    dead.push(...got.map((m) => m.body));
    if (got.length === 0) break;
  }
  assert.deepEqual(
    dead.sort(),
    [...workload.poison].sort(),
    'the dead-letter queue holds the poison, and only it',
  );

  return {
    messages: workload.bodies.length,
    notifyCalls: workload.notify.size,
    alertCalls: workload.alerts.length,
    poison: workload.poison.length,
    engineers: workload.engineers.length,
    verifications: verifications.length,
    questions: [...posts.values()].reduce((a, b) => a + b, 0),
    confirmed: verifications.filter((v) => v.state === 'CONFIRMED').length,
    escalated: verifications.filter((v) => v.state === 'ESCALATED').length,
    duoPushes,
    alerts: alerts.length,
    pages: [...triggers.values()].reduce((a, b) => a + b, 0),
    channelAlerts: channel.length,
  };
}
