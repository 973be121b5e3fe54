/**
 * The sweep, run after each drain: finishes what a crashed process left half done and moves
 * everything along — questions to send or update, deadlines to expire, alerts to post and pages to
 * (re)send. Every step writes its intent before its side effect and is safe to repeat.
 */

import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail.js';
import type { Pager } from '../integrations/pagerduty.js';
import { crashPoint } from '../lib/crash-points.js';
import { mapLimit } from '../lib/limit.js';
import { AlreadyDecidedError } from '../store/errors.js';
import type { ChannelOutcome, Store } from '../store/store.js';
import type { AlertItem, MessageRef, Verification } from '../store/types.js';
import { alertSummary } from '../views/alert.js';
import { ensureEscalationAlerts, escalateVerification } from './escalate.js';
import { recordCounters } from './metrics.js';
import type { Messenger } from './ports.js';

export interface SweepDeps {
  store: Store;
  messenger: Messenger;
  pager: Pager;
  audit: AuditTrail;
  logger: Logger;
  clock?: () => Date;
  /**
   * A DM left in `sending` this long is presumed abandoned by a dead sender: it is looked for in the DM
   * (message metadata) and adopted, else sent again. Also how long an unlocked verification header may
   * wait for its creator before it is discarded as a crash leftover. Default 2 min.
   */
  staleSendMs?: number;
  /** This replica's name: alerts are posted and paged under a per-alert lease, one replica at a time. */
  owner?: string;
}

/**
 * The outbox lease: renewed every third of it while the outbox is worked, so a replica that dies holding
 * it stalls the pages of the others (and of its own restart) for this long at most.
 */
const PAGE_LEASE_MS = 30_000;
/** The alert outbox is worked by one replica at a time, under this lease. */
const OUTBOX_LEASE = 'sweep#pages';
/** Alerts posted and paged at once, and questions sent at once. */
const SWEEP_CONCURRENCY = 16;
/**
 * While the drain left a backlog, a question opened this recently is held back: more calls of the
 * same burst are probably still on the queue, and one DM that shows them all beats a DM and its edits.
 */
export const BACKLOG_HOLD_MS = 60_000;

export interface SweepOptions {
  /** The drain stopped on its time budget with messages left: hold fresh questions (BACKLOG_HOLD_MS). */
  backlog?: boolean;
}

export interface SweepReport {
  questionsSent: number;
  questionsUpdated: number;
  escalated: number;
  alertsPosted: number;
  pagesSent: number;
  pageFailures: number;
  errors: number;
}

/** Back-off for failed pages: 5 s, 10 s, 20 s … capped at 5 min; the page is retried until it lands. */
export function nextPageAttempt(attempts: number, now: Date, retryAfterMs?: number): Date {
  const backoff = Math.min(300_000, 5_000 * 2 ** Math.max(0, attempts - 1));
  return new Date(now.getTime() + Math.max(backoff, retryAfterMs ?? 0));
}

export async function sweep(deps: SweepDeps, opts: SweepOptions = {}): Promise<SweepReport> {
  const clock = deps.clock ?? (() => new Date());
  const report: SweepReport = {
    questionsSent: 0,
    questionsUpdated: 0,
    escalated: 0,
    alertsPosted: 0,
    pagesSent: 0,
    pageFailures: 0,
    errors: 0,
  };
  const guard = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (err instanceof AlreadyDecidedError) return; // someone else moved it on: nothing to do
      report.errors++;
      deps.logger.error({ err }, `sweep: ${what} failed; it is retried on the next run`);
    }
  };

  /** 1. Questions: deadlines first (fail closed), then DMs to send and to update. The alerts it raises. */
  const askAndEscalate = async (): Promise<number> => {
    const escalatedBefore = report.escalated;
    const open = await deps.store.listVerifications('OPEN', { limit: 500 });
    const staleMs = deps.staleSendMs ?? 120_000;
    await mapLimit(open, SWEEP_CONCURRENCY, async (v) => {
      await guard(`verification ${v.id}`, async () => {
        const now = clock();
        // Held back while the drain left a backlog (its deadline is far: the hold is a tenth of it).
        if (
          opts.backlog &&
          (v.dmStatus === 'pending' || v.needsUpdate) &&
          now.getTime() - Date.parse(v.createdAt) < backlogHold(v)
        )
          return;
        if (v.dmStatus === 'pending' && (await deps.store.findOpenVerification(v.engineerKey))?.id !== v.id) {
          // Not (yet) the engineer's open verification: its creator is between writing it and taking the
          // lock, or died there (its call is redelivered and lands elsewhere). Never ask or escalate it.
          if (
            now.getTime() - Date.parse(v.createdAt) > staleMs &&
            (await deps.store.discardUnlockedVerification(v.id))
          ) {
            deps.logger.warn(`sweep: discarded verification ${v.id}, left unlocked by a crashed drain`);
          }
          return;
        }
        if (Date.parse(v.deadline) <= now.getTime()) {
          if (
            await escalateVerification(deps, v, { kind: 'no_answer', by: 'sweep', at: now, from: ['OPEN'] })
          ) {
            report.escalated++;
          }
          return;
        }
        if (v.dmStatus === 'failed') {
          if (
            await escalateVerification(deps, v, {
              kind: 'dm_failed',
              detail: v.dmError,
              by: 'sweep',
              at: now,
              from: ['OPEN'],
            })
          ) {
            report.escalated++;
          }
          return;
        }
        const staleSend = v.dmStatus === 'sending' && now.getTime() - Date.parse(v.updatedAt) > staleMs;
        if (v.dmStatus === 'pending' || staleSend) {
          if ((await sendQuestion(deps, v, now)) === 'sent') report.questionsSent++;
        } else if (v.dmStatus === 'sent' && v.needsUpdate) {
          await refreshQuestion(deps, v, now);
          report.questionsUpdated++;
        }
      });
    });
    // A DUO_PENDING verification past its deadline was never answered by Duo (or its poller died).
    for (const v of await deps.store.listVerifications('DUO_PENDING', { dueBefore: clock(), limit: 200 })) {
      await guard(`verification ${v.id}`, async () => {
        if (
          await escalateVerification(deps, v, {
            kind: 'duo_timeout',
            by: 'sweep',
            at: clock(),
            from: ['DUO_PENDING'],
          })
        ) {
          report.escalated++;
        }
      });
    }
    let recovered = 0;
    await guard('escalation recovery', async () => {
      recovered = await ensureEscalationAlerts(deps, clock());
    });
    return report.escalated - escalatedBefore + recovered;
  };

  const workOutbox = async (): Promise<void> => {
    // 2. Alerts: post in the channel, then page, until PagerDuty accepts. Replicas sweep the same outbox:
    // one works it at a time, under a lease, so no alert is posted or paged twice.
    const owner = deps.owner;
    if (owner && !(await deps.store.acquireLease(OUTBOX_LEASE, owner, PAGE_LEASE_MS, clock()))) return;
    let lost = false;
    const heartbeat = owner
      ? setInterval(() => {
          deps.store.acquireLease(OUTBOX_LEASE, owner, PAGE_LEASE_MS, clock()).then(
            (held) => {
              if (!held) lost = true; // another replica has the outbox: start nothing more
            },
            () => undefined,
          );
        }, PAGE_LEASE_MS / 3)
      : undefined;
    heartbeat?.unref();
    try {
      const pagesSent = { n: 0 };
      const seen = new Set<string>();
      while (!lost) {
        const listed = (await deps.store.listDuePages(clock(), 200)).filter((a) => !seen.has(a.id));
        if (listed.length === 0) break;
        for (const a of listed) seen.add(a.id);
        // Read again (strongly consistent; the listing is an index): another replica may have finished
        // some. A burst's open alert is read by sealing it: the seal answers with the whole alert.
        const unsealedBurst = (a: AlertItem) => a.burst === true && !a.sealed;
        const settled = listed.filter((a) => !unsealedBurst(a));
        const reread = new Map(
          (owner && settled.length > 0 ? await deps.store.getAlerts(settled.map((a) => a.id)) : settled).map(
            (a) => [a.id, a],
          ),
        );
        const due = listed.flatMap((a) => (unsealedBurst(a) ? [a] : (reread.get(a.id) ?? [])));
        await mapLimit(
          due.filter((a) => a.pageStatus === 'pending'),
          SWEEP_CONCURRENCY,
          (listedAlert) =>
            guard(`alert ${listedAlert.id}`, async () => {
              if (lost) return;
              // A burst's alert takes no more calls from here on: what is posted and paged is all of it.
              const alert = unsealedBurst(listedAlert)
                ? await deps.store.sealAlert(listedAlert.id, clock())
                : listedAlert;
              if (alert.pageStatus !== 'pending') return; // finished meanwhile, by another replica
              let channel: ChannelOutcome | undefined;
              if (alert.channelStatus === 'pending' || alert.channelStatus === 'failed') {
                channel = await postAlert(deps, alert);
                if (channel.channelStatus === 'sent') report.alertsPosted++;
              }
              const result = await pageAlert(deps, alert, clock(), channel);
              if (result === 'sent') {
                report.pagesSent++;
                pagesSent.n++;
              } else if (result === 'failed') report.pageFailures++;
            }),
        );
        if (owner) await deps.store.acquireLease(OUTBOX_LEASE, owner, PAGE_LEASE_MS, clock());
      }
      if (pagesSent.n > 0) await recordCounters(deps, clock(), { 'page.sent': pagesSent.n });
    } finally {
      clearInterval(heartbeat);
      if (owner) await deps.store.releaseLease(OUTBOX_LEASE, owner).catch(() => false);
    }
  };

  // Questions and the alert outbox at once: they touch different items, and neither should wait.
  const [raised] = await Promise.all([askAndEscalate(), workOutbox()]);
  // An alert raised by an escalation meanwhile goes out in this sweep, not the next.
  if (raised > 0) await workOutbox();
  return report;
}

/** The backlog hold of a question: never more than a tenth of the engineer's time to answer. */
function backlogHold(v: Verification): number {
  const toAnswer = Date.parse(v.deadline) - Date.parse(v.createdAt);
  return Number.isFinite(toAnswer) ? Math.min(BACKLOG_HOLD_MS, toAnswer / 10) : BACKLOG_HOLD_MS;
}

/**
 * Send the question, or after a dead sender find the one it sent (by the message metadata) and adopt it.
 * `sent` and `adopted` leave the DM reference stored; `failed` leaves `dmStatus: failed` (escalates).
 */
async function sendQuestion(
  deps: SweepDeps,
  v: Verification,
  now: Date,
): Promise<'sent' | 'adopted' | 'failed'> {
  const recovering = v.dmStatus === 'sending';
  // Intent first: a crash after the Slack call leaves `sending`, which a later sweep recovers. Taking a
  // stale `sending` over also requires the item unchanged since it was read: one replica recovers it.
  const claimed = await deps.store.updateVerification(v.id, {
    set: { dmStatus: 'sending' },
    at: now,
    when: { state: ['OPEN'], dmStatus: [v.dmStatus], ...(recovering ? { updatedAt: v.updatedAt } : {}) },
  });
  if (recovering && deps.messenger.findQuestion) {
    let found: MessageRef | undefined;
    try {
      found = await deps.messenger.findQuestion(claimed);
    } catch (err) {
      // History unreadable (no im:history, Slack down): asking twice beats never asking.
      deps.logger.warn(
        { err, verificationId: v.id },
        `sweep: cannot tell whether the question ${v.id} was already sent; sending it again`,
      );
    }
    if (found) {
      await deps.store.updateVerification(v.id, {
        // needsUpdate: calls may have joined since the dead sender rendered it.
        set: { dm: found, dmStatus: 'sent', needsUpdate: true },
        at: deps.clock?.() ?? new Date(),
        when: { dmStatus: ['sending'] },
      });
      deps.logger.warn(
        `sweep: question ${v.id} was sent by a process that died before storing it; adopted message ${found.ts}`,
      );
      // The dead sender never counted it.
      await recordCounters(deps, deps.clock?.() ?? new Date(), { 'verification.sent': 1 });
      return 'adopted';
    }
  }
  const calls = await deps.store.listVerificationCalls(v.id, { limit: 50 });
  let dm: MessageRef;
  try {
    dm = await deps.messenger.askEngineer({ verification: claimed, calls });
  } catch (err) {
    deps.logger.warn(
      { err, verificationId: v.id },
      `sweep: the question for ${v.engineerKey} could not be delivered`,
    );
    await deps.store.updateVerification(v.id, {
      set: { dmStatus: 'failed', dmError: (err as Error).message },
      at: deps.clock?.() ?? new Date(),
      when: { dmStatus: ['sending'] },
    });
    return 'failed';
  }
  crashPoint('after_dm_sent');
  // Slack has the question. A failure (or crash) before this write leaves `sending`: a later sweep
  // finds the message by its metadata and adopts it, so it is not escalated as undeliverable.
  const sentAt = deps.clock?.() ?? new Date();
  const stored = await deps.store.updateVerification(v.id, {
    set: { dm, dmStatus: 'sent', needsUpdate: false },
    at: sentAt,
    when: { dmStatus: ['sending'] },
  });
  if (stored.callCount !== claimed.callCount) {
    // Calls joined while it was being sent (their needsUpdate was just cleared): show them too.
    await deps.store
      .updateVerification(v.id, { set: { needsUpdate: true }, at: sentAt })
      .catch(() => undefined);
  }
  await recordCounters(deps, sentAt, { 'verification.sent': 1 });
  return 'sent';
}

async function refreshQuestion(deps: SweepDeps, v: Verification, now: Date): Promise<void> {
  const calls = await deps.store.listVerificationCalls(v.id, { limit: 50 });
  await deps.messenger.updateQuestion({ verification: v, calls });
  // Only clear the flag if no call joined while we rendered.
  await deps.store.updateVerification(v.id, {
    set: { needsUpdate: false },
    at: now,
    when: { callCount: v.callCount },
  });
}

/** Post the alert in the channel; where it went is stored with the page's outcome (one write). */
async function postAlert(deps: SweepDeps, alert: AlertItem): Promise<ChannelOutcome> {
  try {
    const ref = await deps.messenger.postAlert(alert);
    return { channelMessage: ref, channelStatus: 'sent' };
  } catch (err) {
    deps.logger.warn(
      { err, alertId: alert.id },
      `sweep: alert ${alert.id} could not be posted in the channel; the page still goes out`,
    );
    return { channelStatus: 'failed' };
  }
}

async function pageAlert(
  deps: SweepDeps,
  alert: AlertItem,
  now: Date,
  channel: ChannelOutcome | undefined,
): Promise<'sent' | 'failed' | 'skipped'> {
  // A watchdog condition that recovered before its page went out is not paged any more.
  if (alert.page === false || (alert.kind === 'watchdog' && alert.state === 'RESOLVED')) {
    await deps.store.markPageSent(alert.id, now, channel);
    return 'skipped';
  }
  const result = await deps.pager.trigger({
    dedupKey: alert.id,
    summary: alertSummary(alert),
    severity: alert.severity,
    source: 'secbot',
    component:
      alert.kind === 'escalation' ? 'verification' : alert.kind === 'watchdog' ? 'secbot' : 'cloudtrail',
    group: alert.ruleIds[0],
    class: alert.kind,
    customDetails: {
      eventIDs: alert.eventIds,
      reasons: alert.reasons,
      rules: alert.ruleIds,
      verificationId: alert.verificationId,
      engineer: alert.engineerKey,
    },
    links: alert.channelLink ? [{ href: alert.channelLink, text: 'Alert in Slack' }] : undefined,
  });
  if (result.ok) return (await deps.store.markPageSent(alert.id, now, channel)) ? 'sent' : 'skipped';
  const attempts = alert.pageAttempts + 1;
  deps.logger.warn(
    { alertId: alert.id, attempts, reason: result.reason },
    `sweep: page for ${alert.id} failed (${result.reason}); retrying with the same dedup_key`,
  );
  await deps.store.recordPageFailure(
    alert.id,
    {
      at: now,
      error: result.reason,
      nextAttemptAt: nextPageAttempt(attempts, now, result.ok ? undefined : result.retryAfterMs),
    },
    channel,
  );
  return 'failed';
}
