/**
 * One drain run: receive from the queue (several receivers in parallel) until it is empty or the run's
 * time budget is spent; decode, decide, make each decision durable, and only then delete.
 *
 * Group commit: receivers hand their messages to one committer, which takes everything received while
 * the previous group was being written and decides it as one group, so the group's writes go out
 * together (handlers/drain-writes.ts): one BatchGetItem per 100 records to recognise redeliveries, an
 * engineer's calls joining their verification in one conditional update, decisions recorded 25 to a
 * BatchWriteItem. What must happen once is a conditional write of its own — a call joins a verification
 * once (by eventID), an alert is created once (its id comes from the eventID) — so two drainers racing
 * on one record cannot both ask or page: the loser sees a duplicate. A log decision has no effect but
 * its audit record, which such a race (a concurrent redelivery to two drainers) could write twice.
 *
 * Delivery guarantees (DESIGN.md): a message is deleted only when every record in it is durable (or
 * was already decided); a message that cannot be decoded is reported and left for the dead-letter
 * queue; a failure to store leaves the message for redelivery; redeliveries are absorbed as duplicates.
 */
import type { Logger } from 'pino';
import { decisionToEcs } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import { decodeMessage, describeFailure } from '../cloudtrail/decode.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { resourceOf } from '../cloudtrail/resource.js';
import type { Queue, QueueMessage } from '../integrations/queue.js';
import { crashPoint } from '../lib/crash-points.js';
import { remediationsFor } from '../remediation/plans.js';
import type { RuleSet } from '../rules/types.js';
import type { Store } from '../store/store.js';
import type { Counters, DecisionSummary, VerificationCall } from '../store/types.js';
import { alertBurstOf, burstCallOf } from './alert-bursts.js';
import { type Decision, decide, type PolicyConfig } from './decide.js';
import { createGroupWriter } from './drain-writes.js';
import type { EngineerDirectory } from './ports.js';
import { createRunActivity, stageResolver } from './run-activity.js';
import { silenceLookup, userSilence } from './silences.js';

export interface DrainDeps {
  queue: Queue;
  store: Store;
  ruleSet: RuleSet;
  directory: EngineerDirectory;
  audit: AuditTrail;
  logger: Logger;
  policy: PolicyConfig;
  verifyTimeoutMs: number;
  /** Alert calls of one principal within this window share an alert (handlers/alert-bursts.ts); 0: off. */
  alertBurstMs?: number;
  /** This replica's name, recorded on claims. */
  owner: string;
  clock?: () => Date;
  /** Called for every durable decision (shadow mode prints them). */
  onDecision?: (decision: Decision) => void;
}

export interface DrainOptions {
  /**
   * Stop receiving once this much time has passed (the batch in hand is finished; each receiver takes
   * one batch at least, unless the queue is empty).
   */
  budgetMs: number;
  receivers: number;
  waitSeconds: number;
  visibilityTimeoutSeconds: number;
  /** How long a claim protects a record from other drainers. */
  leaseMs: number;
  /** The committer waits for this many messages (or for the receivers to stop) before deciding a group. */
  minGroup?: number;
  /** Receivers pause while this many messages wait to be decided (memory, and their visibility). */
  maxPending?: number;
}

export const DEFAULT_DRAIN_OPTIONS: DrainOptions = {
  budgetMs: 10_000,
  receivers: 4,
  waitSeconds: 1,
  visibilityTimeoutSeconds: 60,
  leaseMs: 60_000,
  minGroup: 2_000,
  maxPending: 5_000,
};

/** How long the committer waits for a group to fill while receivers are still receiving. */
const GROUP_WAIT_MS = 1_000;
/**
 * With no group in hand, the committer takes this many messages (or what came within IDLE_GROUP_WAIT_MS).
 * Groups mostly go one at a time (one is written before the next fills), and a group's writes cost
 * about the same whatever its size (an engineer's calls join their verification in one update per
 * group): at 500 / 200 ms a 20,000-message drain was ~40 groups and ~1,700 verification joins, at
 * 1,000 / 300 ms it is ~20 groups and half the joins, and about 1 s faster (bench/README.md).
 */
const IDLE_GROUP = 1_000;
const IDLE_GROUP_WAIT_MS = 300;
/** Records decided between two turns of the event loop. */
const YIELD_EVERY = 100;
/** Groups in hand at once (one being decided while the writes and deletes of the others are under way). */
const GROUPS_IN_FLIGHT = 3;

export interface DrainReport {
  startedAt: Date;
  durationMs: number;
  received: number;
  records: number;
  decided: number;
  duplicates: number;
  busy: number;
  poison: number;
  errors: number;
  deleted: number;
  byAction: { log: number; notify: number; alert: number };
  verificationsOpened: number;
  alertsCreated: number;
  stoppedBy: 'empty' | 'budget' | 'signal' | 'error';
  /** Collectors' heartbeats received (README "Watching the watcher"). */
  heartbeats: number;
  /** How long the oldest message received this run had waited in the queue (SentTimestamp). */
  oldestMessageAgeMs?: number;
}

/** What became of one record. */
type Outcome = 'decided' | 'duplicate' | 'busy' | 'failed';

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

function summaryOf(d: Decision, refs: { verificationId?: string; alertId?: string }): DecisionSummary {
  return {
    action: d.action,
    ruleIds: d.matches.map((m) => m.ruleId),
    reason: d.reasons[0],
    verificationId: refs.verificationId,
    alertId: refs.alertId,
    silenceIds: d.silence ? [d.silence.id] : undefined,
  };
}

export function callOf(d: Decision): VerificationCall {
  const r = d.record;
  return {
    eventId: r.eventID,
    eventName: r.eventName,
    eventSource: r.eventSource,
    eventTime: r.eventTime,
    account: r.recipientAccountId ?? d.principal.accountId,
    region: r.awsRegion,
    ruleIds: d.matches.map((m) => m.ruleId),
    action: d.action,
    reason: d.reasons[0],
    summary: d.summary,
    principal: d.principal.name,
    resource: resourceOf(r),
    sourceIp: r.sourceIPAddress,
    userAgent: r.userAgent,
  };
}

/**
 * Drain the queue once. Never throws for a bad message or a failed store write; throws only if the
 * queue itself cannot be reached at the first receive.
 *
 * @example const report = await drainQueue(deps, DEFAULT_DRAIN_OPTIONS, shutdown.signal);
 */
export async function drainQueue(
  deps: DrainDeps,
  opts: DrainOptions,
  signal?: AbortSignal,
): Promise<DrainReport> {
  const clock = deps.clock ?? (() => new Date());
  const startedAt = clock();
  const report: DrainReport = {
    startedAt,
    durationMs: 0,
    received: 0,
    records: 0,
    decided: 0,
    duplicates: 0,
    busy: 0,
    poison: 0,
    errors: 0,
    deleted: 0,
    byAction: { log: 0, notify: 0, alert: 0 },
    verificationsOpened: 0,
    alertsCreated: 0,
    stoppedBy: 'empty',
    heartbeats: 0,
  };
  const counters: Counters = {};
  const count = (name: string, n = 1) => {
    counters[name] = (counters[name] ?? 0) + n;
  };
  const silences = await deps.store.listActiveSilences(startedAt);
  const lookup = silenceLookup(silences);
  // Staged rules: staff overrides (promote / demote) over each file's stage, read once per run.
  const stageOf = stageResolver(
    await deps.store.listRuleStages().catch((err) => {
      deps.logger.warn({ err }, 'drain: could not read rule stage overrides; using the rule files');
      return [];
    }),
  );
  const activity = createRunActivity();
  const deadline = startedAt.getTime() + opts.budgetMs;

  const receiver = async () => {
    let empties = 0;
    // Each receiver takes one batch at least (or finds the queue empty), whatever the clock says: a run
    // always makes progress (the schedule starts the next run at once while runs stop on their budget,
    // app.ts).
    let took = false;
    while (true) {
      if (signal?.aborted) {
        report.stoppedBy = 'signal';
        return;
      }
      if (took && clock().getTime() >= deadline) {
        report.stoppedBy = 'budget';
        return;
      }
      let messages: QueueMessage[];
      try {
        messages = await deps.queue.receive({
          max: 10,
          waitSeconds: opts.waitSeconds,
          visibilityTimeoutSeconds: opts.visibilityTimeoutSeconds,
        });
      } catch (err) {
        report.errors++;
        report.stoppedBy = 'error';
        deps.logger.error({ err }, 'drain: receive failed; the run stops and the next one retries');
        return;
      }
      if (messages.length === 0) {
        // One empty answer does not make an empty queue: a short poll samples (SQS), and local-aws-sqs
        // answers empty when its timers run late on a busy event loop. Two in a row do.
        if (++empties >= 2) return;
        continue;
      }
      empties = 0;
      took = true;
      report.received += messages.length;
      crashPoint('after_receive');
      inbox.push({ messages, receivedAt: Date.now() });
      pending += messages.length;
      inboxMessages += messages.length;
      wake();
      // Back-pressure: wait while the committer is this far behind.
      while (pending >= maxPending && !signal?.aborted)
        await new Promise<void>((r) => waitingReceivers.push(r));
    }
  };

  // The group commit: receivers fill `inbox`; one committer decides what has arrived, group by group.
  const minGroup = Math.max(1, opts.minGroup ?? DEFAULT_DRAIN_OPTIONS.minGroup ?? 1);
  const maxPending = Math.max(10, opts.maxPending ?? DEFAULT_DRAIN_OPTIONS.maxPending ?? 10);
  const inbox: { messages: QueueMessage[]; receivedAt: number }[] = [];
  let pending = 0;
  let receiving = 0;
  let wakeCommitter: (() => void) | undefined;
  const waitingReceivers: (() => void)[] = [];
  const wake = () => {
    const w = wakeCommitter;
    wakeCommitter = undefined;
    w?.();
  };
  const writes = createGroupWriter(deps.store, deps.owner);

  // Two groups may be in hand at once: one being decided while the other's writes are under way.
  const inFlight = new Set<Promise<void>>();
  /** eventIDs in a group in hand: the same record in a later group waits for redelivery (busy). */
  const deciding = new Set<string>();
  let inboxMessages = 0;
  const committer = async () => {
    for (;;) {
      if (inbox.length === 0) {
        if (receiving === 0 && inFlight.size === 0) return;
        await Promise.race([
          new Promise<void>((r) => {
            wakeCommitter = r;
          }),
          ...inFlight,
        ]);
        continue;
      }
      // Let a group fill while receivers are still busy: fewer, larger writes.
      const firstAt = (inbox[0] as { receivedAt: number }).receivedAt;
      // With no group in hand, a smaller group sooner: nothing else is being decided meanwhile.
      const idle = inFlight.size === 0;
      const fill = idle ? Math.min(minGroup, IDLE_GROUP) : minGroup;
      const waitMs = idle ? IDLE_GROUP_WAIT_MS : GROUP_WAIT_MS;
      if (receiving > 0 && inboxMessages < fill && Date.now() - firstAt < waitMs) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, waitMs - (Date.now() - firstAt));
          wakeCommitter = () => {
            clearTimeout(t);
            r();
          };
        });
        continue;
      }
      if (inFlight.size >= GROUPS_IN_FLIGHT) {
        await Promise.race(inFlight);
        continue;
      }
      const group = inbox.splice(0, inbox.length);
      inboxMessages = 0;
      const messages = group.flatMap((g) => g.messages);
      const done: Promise<void> = processBatch(messages, firstAt).finally(() => {
        inFlight.delete(done);
        pending -= messages.length;
        for (const r of waitingReceivers.splice(0)) r();
      });
      inFlight.add(done);
    }
  };

  // The remediations each rule names (secbot.remediation), for the alerts and calls of this run.
  const remediationsByRule = new Map(deps.ruleSet.rules.map((r) => [r.id, r.remediations ?? []]));
  const kindsOfRules = (d: Decision) => d.matches.flatMap((m) => remediationsByRule.get(m.ruleId) ?? []);

  async function processBatch(messages: QueueMessage[], receivedAt: number): Promise<void> {
    const owner = deps.owner;
    // A slow group extends its visibility once, long, rather than letting messages reappear
    // (local-aws-sqs counts each extension as a receive, so extensions stay rare).
    const extendAfterMs = Math.max(0, (opts.visibilityTimeoutSeconds * 1000) / 2 - (Date.now() - receivedAt));
    const extender = setTimeout(() => {
      deps.queue
        .extendVisibility(messages, opts.visibilityTimeoutSeconds * 4)
        .catch((err) => deps.logger.warn({ err }, 'drain: could not extend visibility'));
    }, extendAfterMs);
    extender.unref();
    try {
      const recordsByMessage = new Map<string, CloudTrailRecord[]>();
      for (const m of messages) {
        const result = decodeMessage(m.body);
        if (!result.ok) {
          report.poison++;
          count('drain.poison');
          deps.logger.warn(
            { messageId: m.id, receiveCount: m.receiveCount, reason: result.reason, detail: result.detail },
            `drain: message ${m.id} cannot be decoded (${describeFailure(result)}); left for the dead-letter queue (receive ${m.receiveCount})`,
          );
          continue;
        }
        for (const bad of result.invalid) {
          count('drain.invalid_record');
          deps.logger.warn(
            { messageId: m.id, reason: bad.reason, detail: bad.detail },
            `drain: a record in message ${m.id} was rejected (${describeFailure(bad)}); the rest of the message is decided`,
          );
        }
        recordsByMessage.set(m.id, result.records);
        // Wall clock against SQS's SentTimestamp (both real clocks; the injected clock is the app's).
        if (m.sentAt) activity.messageAge(Date.now() - m.sentAt.getTime());
        for (const hb of result.heartbeats ?? []) activity.heartbeat(hb);
      }

      const unique = new Map<string, CloudTrailRecord>();
      for (const records of recordsByMessage.values()) for (const r of records) unique.set(r.eventID, r);
      // Records of messages received before: an earlier attempt may have stored part of their effect.
      const redelivered = new Set<string>();
      for (const m of messages) {
        if (m.receiveCount > 1) for (const r of recordsByMessage.get(m.id) ?? []) redelivered.add(r.eventID);
      }
      report.records += unique.size;
      // Redeliveries (decided already) and records another drainer holds a live claim on. The rules
      // are applied while the store answers (deciding has no effect; what follows a decision waits).
      const checking =
        unique.size > 0
          ? deps.store.checkEvents([...unique.keys()], owner, clock())
          : Promise.resolve(new Map<string, string>());
      const decisions = new Map<string, Decision>();
      for (const record of unique.values()) {
        if (deciding.has(record.eventID)) continue;
        try {
          decisions.set(record.eventID, decideNow(record));
        } catch {
          // decided again below, where a failure is reported with its record
        }
      }
      const known = await checking;
      const outcomes = new Map<string, Outcome>();
      const toDecide: CloudTrailRecord[] = [];
      for (const record of unique.values()) {
        const claim = known.get(record.eventID);
        if (claim === 'duplicate') {
          report.duplicates++;
          outcomes.set(record.eventID, 'duplicate');
        } else if (claim === 'busy' || deciding.has(record.eventID)) {
          // Held by another drainer, or by another group of this run: left for redelivery.
          report.busy++;
          outcomes.set(record.eventID, 'busy');
        } else toDecide.push(record);
      }
      for (const r of toDecide) deciding.add(r.eventID);
      // Every record of the group is announced to the writer before any starts, so its joins wait
      // for the whole group rather than go out slice by slice.
      const tracked = toDecide.map(() => writes.begin());
      const decided: Promise<void>[] = [];
      for (let i = 0; i < toDecide.length; i++) {
        // A log decision runs to its end without waiting: let the event loop breathe between slices
        // (the receivers, the Socket Mode connection and the embedded queue's timers run on it too).
        if (i > 0 && i % YIELD_EVERY === 0) await new Promise<void>((r) => setImmediate(r));
        const record = toDecide[i] as CloudTrailRecord;
        const done = tracked[i] as { started(): void; settled(): void };
        done.started();
        decided.push(
          decideAndStore(record, redelivered.has(record.eventID), decisions.get(record.eventID))
            .then((outcome) => {
              if (outcome === 'duplicate') report.duplicates++;
              outcomes.set(record.eventID, outcome);
            })
            .finally(() => done.settled()),
        );
      }
      await Promise.all(decided);
      // The group's decisions are durable before any of its messages is deleted.
      const [unrecorded] = await Promise.all([
        writes.commitDecisions(toDecide.map((r) => r.eventID)),
        deps.audit.flush(),
      ]);
      for (const r of toDecide) deciding.delete(r.eventID);
      for (const eventId of unrecorded) {
        report.errors++;
        outcomes.set(eventId, 'failed');
        deps.logger.error(
          `drain: could not record the decision for ${eventId}; its message stays for redelivery`,
        );
      }

      const deletable = messages.filter((m) => {
        const records = recordsByMessage.get(m.id);
        if (!records) return false; // poison: left for the redrive policy
        return records.every((r) => {
          const o = outcomes.get(r.eventID);
          return o === 'decided' || o === 'duplicate';
        });
      });
      if (deletable.length > 0) {
        crashPoint('before_delete');
        try {
          const { deleted, failed } = await deps.queue.deleteBatch(deletable);
          report.deleted += deleted.length;
          for (const f of failed) {
            deps.logger.warn(
              `drain: delete of message ${f.id} failed (${f.reason}); its redelivery will be absorbed`,
            );
          }
        } catch (err) {
          report.errors++;
          deps.logger.warn(
            { err },
            'drain: delete failed; redelivered messages will be absorbed as duplicates',
          );
        }
      }
    } catch (err) {
      report.errors++;
      deps.logger.error({ err }, 'drain: batch failed; its messages stay on the queue for redelivery');
    } finally {
      clearTimeout(extender);
    }
  }

  function decideNow(record: CloudTrailRecord): Decision {
    return decide(record, deps.ruleSet, { now: clock(), policy: deps.policy, silences: lookup, stageOf });
  }

  async function decideAndStore(
    record: CloudTrailRecord,
    redelivered: boolean,
    decided?: Decision,
  ): Promise<Outcome> {
    const now = clock();
    try {
      const decision = decided ?? decideNow(record);
      let verificationId: string | undefined;
      let alertId: string | undefined;
      if (decision.action === 'notify') {
        const resolution = await deps.directory.resolve(decision.principal);
        const silenced = resolution.ok ? userSilence(silences, resolution.engineer.slackUserId) : undefined;
        if (silenced) {
          decision.action = 'log';
          decision.silence = { id: silenced.id, reason: silenced.reason, createdBy: silenced.createdBy };
          decision.reasons.push(`silenced by ${silenced.id}: ${silenced.reason}`);
        } else if (resolution.ok) {
          // Kept on the call, for the alert should the verification escalate.
          const fixes = remediationsFor(record, kindsOfRules(decision));
          const added = await writes.addNotifyCall(
            resolution.engineer.key,
            {
              ...callOf(decision),
              matchedBy: resolution.engineer.via,
              remediations: fixes.plans,
              remediationGaps: fixes.gaps,
            },
            {
              now,
              deadline: new Date(now.getTime() + deps.verifyTimeoutMs),
            },
          );
          verificationId = added.verificationId;
          if (added.duplicate) return await alreadyDecided(record, decision, { verificationId }, now);
          activity.asked(
            decision.matches.map((m) => m.ruleId),
            resolution.engineer.key,
            now,
          );
          if (added.created) {
            report.verificationsOpened++;
            count('verification.opened');
          }
        } else {
          // Fail closed: no one can be asked, so the security team is.
          decision.action = 'alert';
          decision.page = true;
          decision.severity = 'error';
          decision.reasons.push(`unattributed: ${resolution.reason}`);
          decision.adjustments.push({
            kind: 'unattributable',
            from: 'notify',
            to: 'alert',
            reason: resolution.reason,
          });
          count('escalation.unattributed');
        }
      }
      if (decision.action === 'alert') {
        const fixes = remediationsFor(record, kindsOfRules(decision));
        const burstMs = deps.alertBurstMs ?? 0;
        if (burstMs > 0) {
          // One alert for the principal's burst of alert calls (handlers/alert-bursts.ts).
          const joined = await writes.addAlertCall(
            alertBurstOf(decision, burstMs),
            burstCallOf(decision, fixes),
            {
              now,
              redelivered,
            },
          );
          alertId = joined.alertId;
          if (joined.duplicate)
            return await alreadyDecided(record, decision, { verificationId, alertId }, now);
          if (joined.created) {
            report.alertsCreated++;
            count('alert.created');
            if (decision.page) count('page.queued');
          } else count('alert.joined');
          return await recordDecided(record, decision, { verificationId, alertId }, now);
        }
        const { alert, created } = await deps.store.createAlert({
          kind: 'call',
          eventId: record.eventID,
          severity: decision.severity,
          summary: decision.summary,
          ruleIds: decision.matches.map((m) => m.ruleId),
          reasons: decision.reasons,
          page: decision.page,
          remediations: fixes.plans,
          remediationGaps: fixes.gaps,
          at: now,
        });
        alertId = alert.id;
        if (!created) return await alreadyDecided(record, decision, { verificationId, alertId }, now);
        report.alertsCreated++;
        count('alert.created');
        if (decision.page) count('page.queued');
      }
      return await recordDecided(record, decision, { verificationId, alertId }, now);
    } catch (err) {
      report.errors++;
      deps.logger.error(
        { err, eventID: record.eventID },
        `drain: could not store the decision for ${record.eventID}; its message stays for redelivery`,
      );
      return 'failed';
    }
  }

  /** The decision's effect is stored: audit it, queue its marker, count it. */
  async function recordDecided(
    record: CloudTrailRecord,
    decision: Decision,
    refs: { verificationId?: string; alertId?: string },
    now: Date,
  ): Promise<Outcome> {
    if (decision.silence) {
      count(`silence.${decision.silence.id}.hits`);
      await deps.store.recordSilenceHit(decision.silence.id, now).catch(() => false);
    }
    deps.audit.write(decisionToEcs(decision, { ...refs, at: now }));
    writes.recordDecision(record.eventID, summaryOf(decision, refs), now);
    report.decided++;
    deps.onDecision?.(decision);
    report.byAction[decision.action]++;
    count(`decided.${decision.action}`);
    for (const m of decision.matches) count(`rule.${m.ruleId}.${decision.action}`);
    activity.decided(record, now);
    if (decision.staged) await activity.staged(decision, deps.directory, count, now);
    return 'decided';
  }

  /**
   * The call's effect was already stored — a redelivery after a crash, or another drainer deciding the
   * same record at the same time: it is that decision, not a second one. Recorded as decided (so later
   * redeliveries are recognised at once), not audited or counted again.
   */
  async function alreadyDecided(
    record: CloudTrailRecord,
    decision: Decision,
    refs: { verificationId?: string; alertId?: string },
    now: Date,
  ): Promise<Outcome> {
    writes.recordDecision(record.eventID, summaryOf(decision, refs), now);
    return 'duplicate';
  }

  receiving = Math.max(1, opts.receivers);
  await Promise.all([
    ...Array.from({ length: receiving }, async () => {
      try {
        await receiver();
      } finally {
        receiving--;
        wake();
      }
    }),
    committer(),
  ]);
  report.durationMs = clock().getTime() - startedAt.getTime();
  report.heartbeats = activity.heartbeats;
  report.oldestMessageAgeMs = activity.oldestMessageAgeMs;
  if (report.heartbeats > 0) count('drain.heartbeats', report.heartbeats);
  await activity.flush(deps.store, deps.logger, clock());
  if (Object.keys(counters).length > 0) {
    await deps.store
      .incrementCounters(dayOf(startedAt), counters)
      .catch((err) => deps.logger.warn({ err }, 'drain: could not record the run counters'));
  }
  await deps.store
    .recordDrainRun({
      at: startedAt,
      received: report.received,
      decided: report.decided,
      errors: report.errors,
      durationMs: report.durationMs,
    })
    .catch((err) => deps.logger.warn({ err }, 'drain: could not record the run'));
  return report;
}
