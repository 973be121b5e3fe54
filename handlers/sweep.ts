/**
 * The sweep, run after each drain: finishes what a crashed process left half done and moves
 * everything along — questions to send or update, deadlines to expire, alerts to post and pages to
 * (re)send. Every step writes its intent before its side effect and is safe to repeat.
 */
import type { Logger } from 'pino';
import type { AuditTrail } from '../audit/trail.js';
import type { Pager } from '../integrations/pagerduty.js';
import { AlreadyDecidedError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { AlertItem, Verification } from '../store/types.js';
import { ensureEscalationAlerts, escalateVerification } from './escalate.js';
import type { Messenger } from './ports.js';

export interface SweepDeps {
  store: Store;
  messenger: Messenger;
  pager: Pager;
  audit: AuditTrail;
  logger: Logger;
  clock?: () => Date;
  /** A DM left in `sending` this long is assumed lost and sent again (the one window that cannot close). */
  staleSendMs?: number;
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

export async function sweep(deps: SweepDeps): Promise<SweepReport> {
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

  // 1. Questions: deadlines first (fail closed), then DMs to send and to update.
  const open = await deps.store.listVerifications('OPEN', { limit: 500 });
  for (const v of open) {
    await guard(`verification ${v.id}`, async () => {
      const now = clock();
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
      const staleSend =
        v.dmStatus === 'sending' && now.getTime() - Date.parse(v.updatedAt) > (deps.staleSendMs ?? 120_000);
      if (v.dmStatus === 'pending' || staleSend) {
        await sendQuestion(deps, v, now);
        report.questionsSent++;
      } else if (v.dmStatus === 'sent' && v.needsUpdate) {
        await refreshQuestion(deps, v, now);
        report.questionsUpdated++;
      }
    });
  }
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
  await guard('escalation recovery', async () => {
    await ensureEscalationAlerts(deps, clock());
  });

  // 2. Alerts: post in the channel, then page, until PagerDuty accepts.
  for (const alert of await deps.store.listDuePages(clock(), 200)) {
    await guard(`alert ${alert.id}`, async () => {
      if (alert.channelStatus === 'pending' || alert.channelStatus === 'failed') {
        if (await postAlert(deps, alert, clock())) report.alertsPosted++;
      }
      const result = await pageAlert(deps, alert, clock());
      if (result === 'sent') report.pagesSent++;
      else if (result === 'failed') report.pageFailures++;
    });
  }
  return report;
}

async function sendQuestion(deps: SweepDeps, v: Verification, now: Date): Promise<void> {
  // Intent first: a crash after the Slack call leaves `sending`, never a silent second question.
  const claimed = await deps.store.updateVerification(v.id, {
    set: { dmStatus: 'sending' },
    at: now,
    when: { state: ['OPEN'], dmStatus: [v.dmStatus] },
  });
  const calls = await deps.store.listVerificationCalls(v.id, { limit: 50 });
  try {
    const dm = await deps.messenger.askEngineer({ verification: claimed, calls });
    await deps.store.updateVerification(v.id, {
      set: { dm, dmStatus: 'sent', needsUpdate: false },
      at: deps.clock?.() ?? new Date(),
      when: { dmStatus: ['sending'] },
    });
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
  }
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

async function postAlert(deps: SweepDeps, alert: AlertItem, now: Date): Promise<boolean> {
  try {
    const ref = await deps.messenger.postAlert(alert);
    await deps.store.updateAlert(alert.id, { set: { channelMessage: ref, channelStatus: 'sent' }, at: now });
    return true;
  } catch (err) {
    deps.logger.warn(
      { err, alertId: alert.id },
      `sweep: alert ${alert.id} could not be posted in the channel; the page still goes out`,
    );
    await deps.store
      .updateAlert(alert.id, { set: { channelStatus: 'failed' }, at: now })
      .catch(() => undefined);
    return false;
  }
}

async function pageAlert(
  deps: SweepDeps,
  alert: AlertItem,
  now: Date,
): Promise<'sent' | 'failed' | 'skipped'> {
  if (alert.page === false) {
    await deps.store.markPageSent(alert.id, now);
    return 'skipped';
  }
  const result = await deps.pager.trigger({
    dedupKey: alert.id,
    summary: alert.summary,
    severity: alert.severity,
    source: 'secbot',
    component: alert.kind === 'escalation' ? 'verification' : 'cloudtrail',
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
  if (result.ok) {
    await deps.store.markPageSent(alert.id, now);
    return 'sent';
  }
  const attempts = alert.pageAttempts + 1;
  deps.logger.warn(
    { alertId: alert.id, attempts, reason: result.reason },
    `sweep: page for ${alert.id} failed (${result.reason}); retrying with the same dedup_key`,
  );
  await deps.store.recordPageFailure(alert.id, {
    at: now,
    error: result.reason,
    nextAttemptAt: nextPageAttempt(attempts, now, result.ok ? undefined : result.retryAfterMs),
  });
  return 'failed';
}
