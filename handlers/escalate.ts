/**
 * Escalation: a verification that no human confirmed becomes an alert for the security team.
 * The state change wins first (one conditional write); only the winner creates the alert, and the
 * sweep re-creates a missing one after a crash (`ensureEscalationAlerts`).
 */
import type { Logger } from 'pino';
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import { crashPoint } from '../lib/crash-points.js';
import { merge, NO_REMEDIATIONS, type Remediations } from '../remediation/plans.js';
import { AlreadyDecidedError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { AlertItem, Verification, VerificationState } from '../store/types.js';
import { recordVerificationOutcome } from './metrics.js';
import type { Messenger } from './ports.js';

export interface EscalateDeps {
  store: Store;
  audit: AuditTrail;
  logger: Logger;
  /** When given, the engineer's DM is updated to its final state. */
  messenger?: Messenger;
}

/** Why a verification escalated; stable strings for metrics (`escalation.<kind>`). */
export type EscalationKind =
  | 'denied_by_engineer'
  | 'no_answer'
  | 'duo_denied'
  | 'duo_timeout'
  | 'duo_error'
  | 'duo_not_enrolled'
  | 'duo_not_configured'
  | 'unattributed'
  | 'dm_failed';

export const ESCALATION_WORDS: Record<EscalationKind, string> = {
  denied_by_engineer: 'the engineer answered "No, this wasn\'t me"',
  no_answer: 'no answer by the deadline',
  duo_denied: 'the Duo push was denied',
  duo_timeout: 'the Duo push was not answered in time',
  duo_error: 'Duo could not be reached, so the engineer could not be confirmed',
  duo_not_enrolled: 'the engineer has no Duo device that can take a push',
  duo_not_configured: 'Duo is not configured, so a "Yes" cannot be confirmed',
  unattributed: 'no Slack user could be found for the AWS principal',
  dm_failed: 'the question could not be delivered to the engineer',
};

/**
 * Move a verification to ESCALATED and raise its alert. Returns the alert, or undefined when another
 * actor already closed the verification (the loser does nothing).
 */
export async function escalateVerification(
  deps: EscalateDeps,
  v: Pick<Verification, 'id'>,
  input: { kind: EscalationKind; detail?: string; by: string; at: Date; from?: readonly VerificationState[] },
): Promise<{ verification: Verification; alert: AlertItem } | undefined> {
  const reason = input.detail
    ? `${ESCALATION_WORDS[input.kind]} (${input.detail})`
    : ESCALATION_WORDS[input.kind];
  let closed: Verification;
  try {
    closed = await deps.store.transitionVerification(v.id, {
      from: input.from ?? ['OPEN', 'DUO_PENDING'],
      to: 'ESCALATED',
      by: input.by,
      reason: `${input.kind}: ${reason}`,
      at: input.at,
      set: { escalationReason: reason },
    });
  } catch (err) {
    if (err instanceof AlreadyDecidedError) return undefined;
    throw err;
  }
  deps.audit.write(
    auditEvent({
      action: 'verification.escalated',
      outcome: 'success',
      message: `verification ${closed.id} for ${closed.engineerKey} escalated: ${reason}`,
      actor: input.by,
      at: input.at,
      secbot: {
        verification_id: closed.id,
        escalation: input.kind,
        engineer: closed.engineerKey,
        calls: closed.callCount,
      },
    }),
  );
  await recordVerificationOutcome(deps, closed, { kind: 'escalated', why: input.kind }, input.at);
  const alert = await createEscalationAlert(deps, closed, input.kind, input.at);
  deps.logger.warn(
    { verificationId: closed.id, escalation: input.kind, alertId: alert.id },
    `escalate: verification ${closed.id} for ${closed.engineerKey} escalated (${input.kind}: ${reason}); alert ${alert.id} pages the security team`,
  );
  // The escalation and its page outbox entry are durable; the sweep pages it (even after a crash here).
  crashPoint('before_page');
  if (deps.messenger && closed.dm) {
    try {
      const calls = await deps.store.listVerificationCalls(closed.id, { limit: 50 });
      await deps.messenger.updateQuestion({ verification: closed, calls });
    } catch (err) {
      deps.logger.warn({ err, verificationId: closed.id }, 'escalate: could not update the DM');
    }
  }
  return { verification: closed, alert };
}

async function createEscalationAlert(
  deps: EscalateDeps,
  v: Verification,
  kind: EscalationKind | string,
  at: Date,
) {
  const first = v.preview[0];
  const what = first
    ? `${first.eventName}${v.callCount > 1 ? ` and ${v.callCount - 1} more calls` : ''}`
    : `${v.callCount} calls`;
  const fixes = await escalationRemediations(deps, v);
  const { alert } = await deps.store.createAlert({
    kind: 'escalation',
    verificationId: v.id,
    engineerKey: v.engineerKey,
    severity: kind === 'denied_by_engineer' || kind === 'duo_denied' ? 'critical' : 'error',
    summary: `${what} by ${first?.principal ?? v.engineerKey} not confirmed: ${v.escalationReason ?? kind}`,
    eventIds: v.eventIds,
    ruleIds: [...new Set(v.preview.flatMap((c) => c.ruleIds))],
    reasons: [
      v.escalationReason ?? String(kind),
      ...v.preview.map((c) => c.reason).filter((r): r is string => !!r),
    ],
    page: true,
    remediations: fixes.plans,
    remediationGaps: fixes.gaps,
    at,
  });
  return alert;
}

/**
 * What the escalation alert offers: the inverse of each call whose rule names one, plus quarantine of
 * each principal (kept on the calls when they joined). Never stops the escalation: without its calls
 * the alert simply offers nothing.
 */
async function escalationRemediations(deps: EscalateDeps, v: Verification): Promise<Remediations> {
  try {
    const calls = await deps.store.listVerificationCalls(v.id, { limit: 500 });
    return merge(calls.map((c) => ({ plans: c.remediations ?? [], gaps: c.remediationGaps ?? [] })));
  } catch (err) {
    deps.logger.warn({ err, verificationId: v.id }, 'escalate: could not read the calls for remediations');
    return NO_REMEDIATIONS;
  }
}

/** After a crash between the state change and the alert: raise any missing escalation alert. */
export async function ensureEscalationAlerts(deps: EscalateDeps, at: Date): Promise<number> {
  let raised = 0;
  for (const v of await deps.store.listVerifications('ESCALATED', { newestFirst: true, limit: 50 })) {
    if (await deps.store.getAlert(`a_${v.id}`)) continue;
    deps.logger.warn(`sweep: verification ${v.id} escalated without an alert (crash?); raising it now`);
    // The kind is recorded in the transition ("denied_by_engineer: …"): the alert keeps its severity
    // even when the sweep gets here before the escalation's own winner (it runs concurrently).
    const kind = /^([a-z_]+):/.exec(v.history.at(-1)?.reason ?? '')?.[1] ?? 'recovered';
    await createEscalationAlert(deps, v, kind, at);
    raised++;
  }
  return raised;
}
