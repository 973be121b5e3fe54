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
  /** The engineer's Slack id → how many notify calls they made (their burst). */
  callsOf: Map<string, number>;
  /** eventIDs of alert-level calls. */
  alerts: string[];
  /** Bodies that cannot be decoded (they must end in the dead-letter queue, and only they). */
  poison: string[];
  /** Every message body, in sending order. */
  bodies: string[];
  /** The bodies wave by wave (poison not included). */
  waves: string[][];
}

const POISON = [
  '{"detail-type":"AWS API Call via CloudTrail","detail":',
  'not json at all',
  '{"Records":"nope"}',
];

/**
 * `engineers` engineers (`<prefix>e00`…) making `calls` notify calls between them and `alerts` StopLogging
 * calls, plus `poison` undecodable bodies; answers cycle yes, no, none (or `answers`).
 *
 * Each engineer's calls are one burst (a Terraform apply). The bursts come in `waves` (default 1): within
 * a wave the engineers' calls are interleaved, so their bursts overlap and race on every replica; waves
 * follow one another, as the engineers' working days do.
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
    waves?: number;
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
  const body = (r: ReturnType<typeof notifyCall>) => JSON.stringify(toEventBridgeEvent(r));
  const notify = new Map<string, string>();
  const callsOf = new Map<string, number>();
  const alerts: string[] = [];
  const bodies: string[] = [];
  const byWave: string[][] = [];
  const waves = Math.max(1, Math.min(opts.waves ?? 1, engineers.length));
  const perWave = Math.ceil(engineers.length / waves);
  let made = 0;
  for (let w = 0; w < waves; w++) {
    const crew = engineers.slice(w * perWave, (w + 1) * perWave);
    if (crew.length === 0) break;
    const share = Math.round((opts.calls * (w + 1)) / waves) - Math.round((opts.calls * w) / waves);
    const alertShare = Math.round((opts.alerts * (w + 1)) / waves) - Math.round((opts.alerts * w) / waves);
    const alertEvery =
      alertShare > 0 ? Math.max(1, Math.floor(share / alertShare)) : Number.POSITIVE_INFINITY;
    let waveAlerts = 0;
    for (let i = 0; i < share; i++) {
      const e = crew[i % crew.length] as Engineer;
      const r = notifyCall(e.name);
      notify.set(r.eventID, e.id);
      callsOf.set(e.id, (callsOf.get(e.id) ?? 0) + 1);
      bodies.push(body(r));
      if (waveAlerts < alertShare && i % alertEvery === 0) {
        const a = alertCall(e.name);
        alerts.push(a.eventID);
        bodies.push(body(a));
        waveAlerts++;
      }
      made++;
    }
    for (; waveAlerts < alertShare; waveAlerts++) {
      const a = alertCall((crew[waveAlerts % crew.length] as Engineer).name);
      alerts.push(a.eventID);
      bodies.push(body(a));
    }
    byWave.push(bodies.slice(byWave.flat().length));
  }
  assert.equal(made, opts.calls);
  const poison: string[] = [];
  for (let i = 0; i < (opts.poison ?? 0); i++) {
    const p = `${POISON[i % POISON.length]} #${opts.prefix}${i}`;
    poison.push(p);
    bodies.splice(Math.floor((bodies.length * (i + 1)) / ((opts.poison ?? 0) + 1)), 0, p);
  }
  return { engineers, notify, callsOf, alerts, poison, bodies, waves: byWave };
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

/**
 * As each engineer's question is complete — their OPEN verification holds their whole burst, and the DM
 * shows all of it — click their answer (nothing for `none`). Resolves when every listed engineer was
 * handled, with the Socket Mode connections (replicas) that took the clicks.
 */
export async function answerWhenAsked(
  store: Store,
  world: World,
  workload: Workload,
  engineers: Engineer[],
  timeoutMs: number,
  diagnostics?: () => string,
): Promise<{ asked: Map<string, Verification>; connections: Set<number>; slowestMs: number }> {
  const asked = new Map<string, Verification>();
  let slowestMs = 0;
  const connections = new Set<number>();
  const waiting = new Set(engineers.map((e) => e.id));
  await waitFor(
    `a complete question for each of ${engineers.length} engineers`,
    async () => {
      const open = await store.listVerifications('OPEN', { limit: 1000 });
      for (const v of open) {
        const e = engineers.find((x) => x.id === v.engineerKey);
        if (!e || !waiting.has(e.id)) continue;
        if (v.callCount !== workload.callsOf.get(e.id) || v.dmStatus !== 'sent' || v.needsUpdate || !v.dm)
          continue;
        const shown = world.slack.message(v.dm.channel, v.dm.ts);
        if (!JSON.stringify(shown?.blocks ?? []).includes(`${v.id}:${v.callCount}`)) continue;
        waiting.delete(e.id);
        asked.set(e.id, v);
        // How much of the engineer's time to answer the burst and the question took.
        slowestMs = Math.max(slowestMs, Date.now() - Date.parse(v.createdAt));
        if (process.env.SECBOT_TEST_TRACE)
          console.log(`${new Date().toISOString()} answer ${e.name} ${e.answer} (${v.callCount} calls)`);
        const connection = await answer(world, e, v);
        if (connection !== undefined) connections.add(connection);
      }
      return waiting.size === 0;
    },
    {
      timeoutMs,
      intervalMs: 500,
      onTimeout: () => `still waiting for ${[...waiting].join(', ')}\n${diagnostics?.() ?? ''}`,
    },
  );
  return { asked, connections, slowestMs };
}

/** Click the engineer's answer on their question (the latest rendering of the DM). */
export async function answer(world: World, e: Engineer, v: Verification): Promise<number | undefined> {
  if (e.answer === 'none' || !v.dm) return undefined;
  const ack = await world.slack.sendBlockAction({
    user: e.id,
    action_id: e.answer === 'yes' ? ACTION_YES : ACTION_NO,
    channel: v.dm.channel,
    message_ts: v.dm.ts,
    timeoutMs: 10_000,
  });
  return ack.connection;
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
      // Ten reads at a time, stopping at the first undecided one: the table lives in this process,
      // next to the servers the children use.
      while (left.length > 0) {
        const chunk = left.slice(0, 10);
        const claims = await Promise.all(chunk.map((id) => store.getEventClaim(id)));
        const undecided = claims.findIndex((c) => c?.status !== 'decided');
        left = left.slice(undecided === -1 ? chunk.length : undecided);
        if (undecided !== -1) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 1000, onTimeout: () => `${left.length} not decided\n${diagnostics?.() ?? ''}` },
  );
}

/** Wait until nothing is left to do: no OPEN or DUO_PENDING verification, no page pending. */
export async function waitForQuiet(
  store: Store,
  timeoutMs: number,
  diagnostics?: () => string,
): Promise<void> {
  let left = '';
  await waitFor(
    'every verification closed and every page sent',
    async () => {
      const [open, pending, pages] = await Promise.all([
        store.listVerifications('OPEN', { limit: 10 }),
        store.listVerifications('DUO_PENDING', { limit: 10 }),
        store.listDuePages(new Date(Date.now() + 86_400_000), 10),
      ]);
      left = JSON.stringify({
        open: open.map((v) => [v.id, v.engineerKey, v.dmStatus, v.deadline]),
        duoPending: pending.map((v) => [v.id, v.engineerKey, v.duoTxid, v.deadline]),
        pages: pages.map((a) => [a.id, a.kind, a.pageAttempts, a.lastError, a.nextAttemptAt]),
      });
      return open.length === 0 && pending.length === 0 && pages.length === 0;
    },
    { timeoutMs, intervalMs: 500, onTimeout: () => `left: ${left}\n${diagnostics?.() ?? ''}` },
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
  watchdogAlerts: number;
  /** PagerDuty triggers, and how many were the same dedup_key sent again after a crash. */
  pages: number;
  resentPages: number;
  repostedAlerts: number;
  channelAlerts: number;
  /** Distinct processes that decided events (claim owners). */
  drainers: number;
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
  /**
   * What the killed process had already sent: the dedup_keys it triggered and the alert messages it
   * posted. These alone may have been sent once more (see `resentPages`, `repostedAlerts`).
   */
  beforeKill?: { paged: ReadonlySet<string>; posted: readonly StoredMessage[] };
}): Promise<Figures> {
  const { world, table, queue, workload } = opts;
  const items = await scanTable(world, table);
  const claims = new Map(items.filter((i) => i.entity === 'event').map((i) => [String(i.eventId), i]));
  const verifications = items.filter((i) => i.entity === 'verification').map(toVerification);
  // Watchdog alerts (the dead-letter queue holding the poison, README "Watching the watcher") are about
  // secbot's own health, not the workload's calls: they are not counted here.
  const allAlerts = items.filter((i) => i.entity === 'alert');
  const alerts = allAlerts.filter((i) => i.kind !== 'watchdog');
  const watchdog = allAlerts.filter((i) => i.kind === 'watchdog');
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

  // 6. alerts: every alert call in exactly one alert (alert calls of one principal close in time share
  // one, handlers/alert-bursts.ts), one per escalation, each paged once
  const alertsOfCall = new Map<string, string[]>();
  for (const a of alerts) {
    if (a.kind === 'escalation') continue;
    for (const e of (a.eventIds as string[] | undefined) ?? [])
      alertsOfCall.set(e, [...(alertsOfCall.get(e) ?? []), String(a.id)]);
  }
  for (const e of workload.alerts) {
    const holding = alertsOfCall.get(e) ?? [];
    assert.equal(holding.length, 1, `alert call ${e} is in exactly one alert (in ${holding})`);
  }
  const alertCalls = new Set(workload.alerts);
  for (const [e, holding] of alertsOfCall)
    assert.ok(alertCalls.has(e), `alert ${holding} holds only workload alert calls (${e})`);
  const expected = new Set([
    ...workload.alerts.map((e) => (alertsOfCall.get(e) as string[])[0] as string),
    ...verifications.filter((v) => v.state === 'ESCALATED').map((v) => `a_${v.id}`),
  ]);
  assert.deepEqual(
    new Set(alerts.map((a) => String(a.id))),
    expected,
    'one alert per burst of alert calls and per escalation',
  );
  const triggers = new Map<string, number>();
  for (const t of world.pagerduty.triggers()) triggers.set(t.dedup_key, (triggers.get(t.dedup_key) ?? 0) + 1);
  let resent = 0;
  for (const a of alerts) {
    assert.equal(a.pageStatus, 'sent', `alert ${a.id} paged`);
    const n = triggers.get(String(a.id)) ?? 0;
    if (n === 2 && opts.beforeKill?.paged.has(String(a.id))) {
      // The one window a page has: PagerDuty accepted it and the process died before recording that.
      // Sent again with the same dedup_key, PagerDuty folds it into the same incident: one page.
      resent++;
      continue;
    }
    assert.equal(n, 1, `one PagerDuty trigger for dedup_key ${a.id}`);
  }
  // The watchdog's own alerts: handled, paged only if they say so, and nothing else was paged.
  for (const a of watchdog) {
    assert.equal(a.pageStatus, 'sent', `watchdog alert ${a.id} handled`);
    assert.equal(
      triggers.get(String(a.id)) ?? 0,
      a.page === false ? 0 : 1,
      `watchdog alert ${a.id} paged as it says`,
    );
  }
  const paged = new Set([...expected, ...watchdog.filter((a) => a.page !== false).map((a) => String(a.id))]);
  assert.deepEqual(new Set(triggers.keys()), paged, 'nothing else was paged');
  const channel = world.slack
    .messages(ALERT_CHANNEL)
    .filter((m) => m.thread_ts === undefined || m.thread_ts === m.ts);
  let reposted = 0;
  for (const a of allAlerts) {
    const posted = channel.filter((m) => JSON.stringify(m.blocks ?? []).includes(String(a.id)));
    const byKilled = opts.beforeKill?.posted.filter((m) => posted.includes(m)) ?? [];
    if (posted.length === 2 && byKilled.length === 1) {
      // Same window for the channel message: posted, then the process died before recording it.
      reposted++;
      continue;
    }
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
    watchdogAlerts: watchdog.length,
    pages: [...triggers.values()].reduce((a, b) => a + b, 0),
    resentPages: resent,
    repostedAlerts: reposted,
    channelAlerts: channel.length,
    drainers: new Set([...claims.values()].map((c) => String(c.claimedBy).split('#')[0])).size,
  };
}
