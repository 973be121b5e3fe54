/**
 * A staff member presses a remediation on a channel alert. Staff is checked before this runs (the
 * staff-only middleware); here: claim the remediation (one conditional write: a second press or a
 * second replica loses), confirm the presser with a Duo push, write the intent, run the call once,
 * record the outcome with the actor and the time, and update the alert. Every attempt is audited.
 *
 * Fail closed: without Duo (when it is required), or with a push denied, unanswered or failed, AWS is
 * not called and the remediation goes back to `available` (the alert notes the attempt). Once AWS has
 * been called, the result is final: `done` or `failed`, never run again from Slack.
 */
import type { Logger } from 'pino';
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import type { RemediationExecutor, RemediationResult } from '../integrations/aws-remediation.js';
import { type SecondFactor, waitForPush } from '../integrations/duo.js';
import { commandKey } from '../remediation/types.js';
import { AlreadyDecidedError, NotFoundError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { AlertItem, AlertRemediation, AlertState, RemediationChange } from '../store/types.js';
import type { Messenger } from './ports.js';

export interface RemediateDeps {
  store: Store;
  messenger: Messenger;
  executor: RemediationExecutor;
  /** Each press needs the presser's Duo push (SECBOT_REMEDIATION_DUO, default true). */
  requireDuo: boolean;
  /** Undefined when Duo is not configured: with `requireDuo`, every press is refused. */
  duo?: SecondFactor;
  /** The Duo username for a Slack user (from the Slack profile email). */
  duoUsername(slackUserId: string): Promise<string | undefined>;
  duoTimeoutMs: number;
  duoPollIntervalMs?: number;
  audit: AuditTrail;
  logger: Logger;
  clock?: () => Date;
  /** Aborted on shutdown: a press waiting for Duo is left in its Duo phase and can be pressed again later. */
  signal?: AbortSignal;
}

export type RemediateResult =
  /** `done` / `failed`: AWS was called; `denied`: Duo did not confirm; `shadow`: printed only. */
  { outcome: 'done' | 'failed' | 'denied' | 'shadow' | 'ignored' | 'refused'; message: string };

const OPEN_STATES: readonly AlertState[] = ['OPEN', 'ACKNOWLEDGED'];

const describeStatus = (r: AlertRemediation): string => {
  switch (r.status) {
    case 'running':
      return r.phase === 'duo'
        ? `<@${r.by}> pressed it and is approving the Duo push.`
        : `<@${r.by}> pressed it and it is running.`;
    case 'done':
      return `It is already done (by <@${r.by}>).`;
    case 'failed':
      return `It already ran and failed (pressed by <@${r.by}>); finish it by hand.`;
    default:
      return 'It is available: press it again.';
  }
};

/**
 * Run remediation `remediationId` of `alertId` for staff member `userId`. Resolves when it is over
 * (Duo answered and AWS was called, or not); listeners ack before calling it.
 */
export async function remediate(
  deps: RemediateDeps,
  input: {
    alertId: string;
    remediationId: string;
    userId: string;
    /** Tells the presser how it goes while they wait (the Duo push is on its way). */
    progress?: (text: string) => Promise<unknown>;
  },
): Promise<RemediateResult> {
  const clock = deps.clock ?? (() => new Date());
  const { alertId, remediationId, userId } = input;
  const audit = (
    action: string,
    outcome: 'success' | 'failure' | 'unknown',
    message: string,
    extra: Record<string, unknown> = {},
    r?: AlertRemediation,
  ) =>
    deps.audit.write(
      auditEvent({
        action: `remediation.${action}`,
        outcome,
        message,
        actor: userId,
        at: clock(),
        secbot: {
          alert_id: alertId,
          remediation_id: remediationId,
          ...(r
            ? {
                remediation: r.plan.kind,
                call: commandKey(r.plan),
                input: r.plan.input,
                account: r.plan.account,
                region: r.plan.region,
                event_id: r.plan.eventId,
              }
            : {}),
          executor: deps.executor.mode,
          ...extra,
        },
      }),
    );
  const refuse = (why: string, message: string, r?: AlertRemediation): RemediateResult => {
    audit(
      'refused',
      'failure',
      `${userId} pressed remediation ${remediationId} of ${alertId}: refused, ${why}`,
      {},
      r,
    );
    return { outcome: 'refused', message };
  };

  const alert = await deps.store.getAlert(alertId);
  const r = alert?.remediations?.find((x) => x.id === remediationId);
  if (!alert || !r)
    return refuse('no such remediation', 'That remediation no longer exists. Nothing was changed.');
  if (!OPEN_STATES.includes(alert.state))
    return refuse('the alert is resolved', 'That alert is resolved. Nothing was changed.', r);
  if (deps.requireDuo && !deps.duo) {
    return refuse(
      'Duo is not configured',
      'Remediation needs a Duo push and Duo is not configured (DUO_IKEY, DUO_SKEY, DUO_HOST). Nothing was changed.',
      r,
    );
  }

  // 1. Claim: available → running. The loser of a race (double press, other replica) stops here.
  const pressedAt = clock();
  let claimed: AlertItem;
  try {
    claimed = await change(deps, alertId, remediationId, {
      from: ['available'],
      to: 'running',
      alertStates: OPEN_STATES,
      // A press whose process died while waiting for Duo never called AWS: it may be taken over.
      staleDuoBefore: new Date(pressedAt.getTime() - deps.duoTimeoutMs - 60_000),
      set: {
        phase: deps.requireDuo ? 'duo' : 'executing',
        by: userId,
        startedAt: pressedAt,
        finishedAt: null,
        outcome: null,
        requestId: null,
      },
      countAttempt: true,
      at: pressedAt,
    });
  } catch (err) {
    if (!(err instanceof AlreadyDecidedError) && !(err instanceof NotFoundError)) throw err;
    const now = (await deps.store.getAlert(alertId))?.remediations?.find((x) => x.id === remediationId);
    audit(
      'ignored',
      'failure',
      `${userId} pressed remediation ${remediationId} of ${alertId}: already ${now?.status}`,
      {},
      r,
    );
    const message = !now
      ? 'That remediation no longer exists.'
      : now.status === 'available'
        ? 'That alert was resolved meanwhile. Nothing was changed.'
        : describeStatus(now);
    return { outcome: 'ignored', message };
  }
  audit(
    'requested',
    'unknown',
    `${userId} pressed remediation ${remediationId} of ${alertId}: ${r.plan.description}`,
    { duo_required: deps.requireDuo },
    r,
  );
  await show(deps, claimed);

  // 2. The second factor: the presser's own Duo push. Nothing has been called yet, so a no releases it.
  if (deps.requireDuo) {
    const confirmed = await confirmWithDuo(deps, userId, alertId, r, input.progress);
    if (!confirmed.ok) {
      const at = clock();
      if (confirmed.reason === 'aborted') {
        // Shutting down: left in its Duo phase, which a later press takes over once stale.
        return {
          outcome: 'ignored',
          message: 'secbot is restarting; press again in a minute. Nothing was changed.',
        };
      }
      const released = await change(deps, alertId, remediationId, {
        from: ['running'],
        expectPhase: 'duo',
        expectBy: userId,
        to: 'available',
        set: {
          phase: null,
          by: null,
          startedAt: null,
          lastAttempt: { by: userId, at, result: `Duo: ${confirmed.reason}` },
        },
        at,
      }).catch((err) => {
        deps.logger.warn({ err, alertId }, `remediate: could not release ${remediationId} after Duo said no`);
        return undefined;
      });
      audit(
        'denied',
        'failure',
        `${userId} was not confirmed by Duo (${confirmed.reason}): nothing was called`,
        {},
        r,
      );
      if (released) await show(deps, released);
      return {
        outcome: 'denied',
        message: `Duo did not confirm you (${confirmed.reason}). Nothing was changed.`,
      };
    }
    // Intent before the side effect: from here on AWS may be called, and a crash leaves it visible.
    try {
      claimed = await change(deps, alertId, remediationId, {
        from: ['running'],
        expectPhase: 'duo',
        expectBy: userId,
        to: 'running',
        set: { phase: 'executing' },
        at: clock(),
      });
    } catch (err) {
      if (!(err instanceof AlreadyDecidedError)) throw err;
      audit(
        'ignored',
        'failure',
        `${userId} approved Duo but the remediation was taken over meanwhile`,
        {},
        r,
      );
      return {
        outcome: 'ignored',
        message: 'Someone else took this remediation over while Duo was asking you.',
      };
    }
  }

  // 3. The call, once.
  const result: RemediationResult = await deps.executor
    .execute(r.plan, { alertId, remediationId, actor: userId })
    .catch((err: unknown) => ({ ok: false, sent: true, error: String(err) }));
  const at = clock();
  let final: AlertItem | undefined;
  let outcome: RemediateResult;
  if (result.ok && result.shadow) {
    final = await finish(deps, alertId, remediationId, userId, {
      to: 'available',
      set: {
        phase: null,
        by: null,
        startedAt: null,
        lastAttempt: { by: userId, at, result: result.outcome },
      },
      at,
    });
    audit(
      'shadow',
      'success',
      `${userId} ran remediation ${remediationId} of ${alertId} in shadow: ${result.outcome}`,
      {},
      r,
    );
    outcome = { outcome: 'shadow', message: `Shadow mode: ${result.outcome}` };
  } else if (result.ok) {
    final = await finish(deps, alertId, remediationId, userId, {
      to: 'done',
      set: { phase: null, finishedAt: at, outcome: result.outcome, requestId: result.requestId ?? null },
      at,
    });
    audit(
      'executed',
      'success',
      `${userId} ran remediation ${remediationId} of ${alertId}: ${r.plan.description}: ${result.outcome}`,
      { request_id: result.requestId, result: result.outcome },
      r,
    );
    outcome = { outcome: 'done', message: `Done: ${r.plan.description} (${result.outcome}).` };
  } else if (!result.sent) {
    // AWS was not asked to change anything (e.g. the role is missing there): it may be pressed again.
    final = await finish(deps, alertId, remediationId, userId, {
      to: 'available',
      set: { phase: null, by: null, startedAt: null, lastAttempt: { by: userId, at, result: result.error } },
      at,
    });
    audit(
      'failed',
      'failure',
      `remediation ${remediationId} of ${alertId} not run: ${result.error}`,
      { error: result.error, sent: false },
      r,
    );
    outcome = {
      outcome: 'failed',
      message: `Not run: ${result.error}. Nothing was changed; fix that and press again.`,
    };
  } else {
    final = await finish(deps, alertId, remediationId, userId, {
      to: 'failed',
      set: { phase: null, finishedAt: at, outcome: result.error, requestId: result.requestId ?? null },
      at,
    });
    audit(
      'failed',
      'failure',
      `remediation ${remediationId} of ${alertId} failed: ${result.error}`,
      { error: result.error, sent: true, request_id: result.requestId },
      r,
    );
    outcome = {
      outcome: 'failed',
      message: `Failed: ${result.error}. Check the account and finish by hand.`,
    };
  }
  if (final) await show(deps, final);
  return outcome;
}

async function change(
  deps: RemediateDeps,
  alertId: string,
  remediationId: string,
  c: RemediationChange,
): Promise<AlertItem> {
  return deps.store.transitionRemediation(alertId, remediationId, c);
}

/** running → final, on the run we started. Logged (not thrown) if it cannot be written: AWS already answered. */
async function finish(
  deps: RemediateDeps,
  alertId: string,
  remediationId: string,
  userId: string,
  c: Pick<RemediationChange, 'to' | 'set' | 'at'>,
): Promise<AlertItem | undefined> {
  try {
    return await change(deps, alertId, remediationId, {
      from: ['running'],
      expectPhase: 'executing',
      expectBy: userId,
      ...c,
    });
  } catch (err) {
    deps.logger.error(
      { err, alertId, remediationId },
      'remediate: could not record the outcome on the alert',
    );
    return undefined;
  }
}

async function show(deps: RemediateDeps, alert: AlertItem): Promise<void> {
  if (!alert.channelMessage) return; // not posted yet: the sweep posts it as it is now
  try {
    await deps.messenger.postAlert(alert);
  } catch (err) {
    deps.logger.warn({ err, alertId: alert.id }, 'remediate: could not update the channel alert');
  }
}

/** The presser's own Duo push, naming the call; anything but an approval is a no. */
async function confirmWithDuo(
  deps: RemediateDeps,
  userId: string,
  alertId: string,
  r: AlertRemediation,
  progress?: (text: string) => Promise<unknown>,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  if (!deps.duo) return { ok: false, reason: 'Duo is not configured' };
  const username = await deps.duoUsername(userId).catch(() => undefined);
  if (!username) return { ok: false, reason: 'no email on your Slack profile to name your Duo user' };
  const enrolled = await deps.duo.preauth(username);
  if (!enrolled.ok) return { ok: false, reason: enrolled.detail };
  const push = await deps.duo.startPush(
    username,
    {
      secbot: alertId,
      remediation: commandKey(r.plan),
      account: r.plan.account,
      target: r.plan.label,
    },
    enrolled.device,
  );
  if ('error' in push) return { ok: false, reason: `the push could not be sent (${push.error})` };
  await progress?.(
    `Approve the Duo push on your phone to run ${commandKey(r.plan)} in ${r.plan.account}.`,
  )?.catch(() => undefined);
  const outcome = await waitForPush(deps.duo, push.txid, {
    timeoutMs: deps.duoTimeoutMs,
    intervalMs: deps.duoPollIntervalMs,
    signal: deps.signal,
  });
  if (outcome.result === 'allow') return { ok: true };
  if (outcome.result === 'error')
    return { ok: false, reason: outcome.reason === 'aborted' ? 'aborted' : `error: ${outcome.reason}` };
  if (outcome.result === 'deny')
    return {
      ok: false,
      reason: outcome.reason === 'timeout' ? 'not answered in time' : `push ${outcome.reason}`,
    };
  return { ok: false, reason: 'not answered in time' };
}
