/**
 * The engineer's answer: **Yes** moves OPEN → DUO_PENDING (one conditional write: a double click or a
 * second replica loses) and runs the Duo push; **No** escalates. Only the engineer asked may answer.
 * Fail closed: no Duo, not enrolled, Duo down, denied or not answered in time → escalate.
 */
import type { Logger } from 'pino';
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import { type DuoOutcome, type SecondFactor, waitForPush } from '../integrations/duo.js';
import { crashPoint } from '../lib/crash-points.js';
import { AlreadyDecidedError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { Verification } from '../store/types.js';
import { type EscalationKind, escalateVerification } from './escalate.js';
import { recordVerificationOutcome } from './metrics.js';
import type { Messenger } from './ports.js';

export interface VerifyDeps {
  store: Store;
  messenger: Messenger;
  /** Undefined when Duo is not configured: a Yes cannot be confirmed and escalates. */
  duo?: SecondFactor;
  /** The Duo username for a Slack user (from the Slack profile email). */
  duoUsername(slackUserId: string): Promise<string | undefined>;
  audit: AuditTrail;
  logger: Logger;
  duoTimeoutMs: number;
  duoPollIntervalMs?: number;
  clock?: () => Date;
  /** Aborted on shutdown: a push being polled is left DUO_PENDING (its txid stored) and resumed on restart. */
  signal?: AbortSignal;
}

/** What the person who clicked is told (ephemeral), when anything. */
export type AnswerResult =
  | { outcome: 'started' | 'escalated' | 'confirmed' | 'ignored' }
  | { outcome: 'refused'; message: string };

/** Parse a button value: `<verificationId>:<callCount shown>`. */
export function parseAnswerValue(
  value: string | undefined,
): { verificationId: string; callCount?: number } | undefined {
  if (!value || value.length > 200) return undefined;
  const m = /^(v_[A-Za-z0-9]+)(?::(\d{1,7}))?$/.exec(value);
  if (!m?.[1]) return undefined;
  return { verificationId: m[1], callCount: m[2] ? Number(m[2]) : undefined };
}

async function refreshDm(deps: VerifyDeps, v: Verification): Promise<void> {
  try {
    const calls = await deps.store.listVerificationCalls(v.id, { limit: 50 });
    await deps.messenger.updateQuestion({ verification: v, calls });
  } catch (err) {
    deps.logger.warn({ err, verificationId: v.id }, 'verify: could not update the DM');
  }
}

async function loadForAnswer(
  deps: VerifyDeps,
  input: { verificationId: string; userId: string; answer: 'yes' | 'no' },
): Promise<Verification | { refused: string }> {
  const v = await deps.store.getVerification(input.verificationId);
  if (!v) return { refused: 'This question no longer exists.' };
  if (v.engineerKey !== input.userId) {
    deps.audit.write(
      auditEvent({
        action: 'verification.answer_refused',
        outcome: 'failure',
        message: `${input.userId} tried to answer ${input.answer} to ${v.id}, which was sent to ${v.engineerKey}`,
        actor: input.userId,
        secbot: { verification_id: v.id, engineer: v.engineerKey, answer: input.answer },
      }),
    );
    return { refused: 'Only the engineer this question was sent to can answer it.' };
  }
  return v;
}

/** **No, this wasn't me**: escalate at once. */
export async function answerNo(
  deps: VerifyDeps,
  input: { verificationId: string; userId: string },
): Promise<AnswerResult> {
  const v = await loadForAnswer(deps, { ...input, answer: 'no' });
  if ('refused' in v) return { outcome: 'refused', message: v.refused };
  const now = deps.clock?.() ?? new Date();
  const escalated = await escalateVerification(deps, v, {
    kind: 'denied_by_engineer',
    by: input.userId,
    at: now,
    from: ['OPEN'],
  });
  if (!escalated) return { outcome: 'ignored' };
  await refreshDm(deps, escalated.verification);
  return { outcome: 'escalated' };
}

/**
 * **Yes, this was me**: claim OPEN → DUO_PENDING, then push. Resolves when Duo has answered (or the
 * verification escalated); listeners ack before calling it.
 */
export async function answerYes(
  deps: VerifyDeps,
  input: { verificationId: string; userId: string; callCount?: number },
): Promise<AnswerResult> {
  const v = await loadForAnswer(deps, { ...input, answer: 'yes' });
  if ('refused' in v) return { outcome: 'refused', message: v.refused };
  if (v.state !== 'OPEN') return { outcome: 'ignored' };
  const now = deps.clock?.() ?? new Date();
  if (input.callCount !== undefined && input.callCount !== v.callCount) {
    // New calls joined after the message was rendered: the Yes must cover what the engineer saw.
    await refreshDm(deps, v);
    return {
      outcome: 'refused',
      message:
        'New calls joined this question since you opened it. The message is updated: please answer again.',
    };
  }
  let pending: Verification;
  try {
    pending = await deps.store.transitionVerification(v.id, {
      from: ['OPEN'],
      to: 'DUO_PENDING',
      by: input.userId,
      reason: 'the engineer answered yes',
      at: now,
      expectCallCount: v.callCount,
      // The sweep escalates a push nobody settles by this time (a crashed poller included).
      set: { deadline: new Date(now.getTime() + deps.duoTimeoutMs + 30_000) },
    });
  } catch (err) {
    if (err instanceof AlreadyDecidedError) return { outcome: 'ignored' };
    throw err;
  }
  await refreshDm(deps, pending);
  return runPush(deps, pending, input.userId);
}

const escalate = async (deps: VerifyDeps, v: Verification, kind: EscalationKind, detail?: string) => {
  const done = await escalateVerification(deps, v, {
    kind,
    detail,
    by: 'duo',
    at: deps.clock?.() ?? new Date(),
    from: ['DUO_PENDING'],
  });
  return { outcome: done ? 'escalated' : 'ignored' } as const;
};

function pushinfoFor(v: Verification): Record<string, string> {
  const first = v.preview[0];
  return {
    secbot: v.id,
    call: first ? `${first.eventSource.replace(/\.amazonaws\.com$/, '')}:${first.eventName}` : 'AWS change',
    account: first?.account ?? '',
    calls: String(v.callCount),
  };
}

async function runPush(deps: VerifyDeps, v: Verification, userId: string): Promise<AnswerResult> {
  if (!deps.duo) return escalate(deps, v, 'duo_not_configured');
  const username = await deps.duoUsername(userId).catch(() => undefined);
  if (!username)
    return escalate(deps, v, 'duo_not_enrolled', 'no email on the Slack profile to name the Duo user');
  const enrolled = await deps.duo.preauth(username);
  if (!enrolled.ok) {
    return escalate(
      deps,
      v,
      enrolled.reason === 'error'
        ? 'duo_error'
        : enrolled.reason === 'denied'
          ? 'duo_denied'
          : 'duo_not_enrolled',
      enrolled.detail,
    );
  }
  const push = await deps.duo.startPush(username, pushinfoFor(v), enrolled.device);
  if ('error' in push) return escalate(deps, v, 'duo_error', push.error);
  // Intent before waiting: a restarted process resumes polling this txid instead of pushing again.
  const now = deps.clock?.() ?? new Date();
  try {
    v = await deps.store.updateVerification(v.id, {
      set: { duoTxid: push.txid, duoStartedAt: now },
      at: now,
      when: { state: ['DUO_PENDING'] },
    });
  } catch (err) {
    if (err instanceof AlreadyDecidedError) return { outcome: 'ignored' };
    throw err;
  }
  crashPoint('duo_pending');
  return settlePush(deps, v, push.txid);
}

/** Poll a push to its end and apply the outcome. Also used to resume after a restart. */
export async function settlePush(deps: VerifyDeps, v: Verification, txid: string): Promise<AnswerResult> {
  if (!deps.duo) return escalate(deps, v, 'duo_not_configured');
  const startedAt = v.duoStartedAt ? Date.parse(v.duoStartedAt) : Date.now();
  const remaining = Math.max(1_000, startedAt + deps.duoTimeoutMs - Date.now());
  const outcome: DuoOutcome = await waitForPush(deps.duo, txid, {
    timeoutMs: remaining,
    intervalMs: deps.duoPollIntervalMs,
    signal: deps.signal,
  });
  if (outcome.result === 'error' && outcome.reason === 'aborted') return { outcome: 'ignored' };
  if (outcome.result === 'allow') {
    try {
      const at = deps.clock?.() ?? new Date();
      const confirmed = await deps.store.transitionVerification(v.id, {
        from: ['DUO_PENDING'],
        to: 'CONFIRMED',
        by: 'duo',
        reason: `Duo push approved (${outcome.status})`,
        at,
        set: { duoResult: 'allow' },
      });
      deps.audit.write(
        auditEvent({
          action: 'verification.confirmed',
          outcome: 'success',
          message: `verification ${v.id} confirmed by ${v.engineerKey} with Duo`,
          actor: v.engineerKey,
          secbot: { verification_id: v.id, calls: v.callCount },
        }),
      );
      await recordVerificationOutcome(deps, confirmed, { kind: 'confirmed' }, at);
      await refreshDm(deps, confirmed);
      return { outcome: 'confirmed' };
    } catch (err) {
      if (err instanceof AlreadyDecidedError) return { outcome: 'ignored' };
      throw err;
    }
  }
  if (outcome.result === 'deny') {
    return escalate(deps, v, outcome.reason === 'timeout' ? 'duo_timeout' : 'duo_denied', outcome.reason);
  }
  if (outcome.result === 'error') return escalate(deps, v, 'duo_error', outcome.reason);
  return escalate(deps, v, 'duo_timeout');
}

/** Longest time from a Yes to its Duo txid being stored (preauth and auth, 10 s each, and margin). */
const PUSH_START_GRACE_MS = 30_000;

/**
 * On start: resume polling every DUO_PENDING verification that has a txid; escalate those without one
 * that were answered long enough ago that no live replica can still be starting their push.
 */
export async function resumePendingPushes(deps: VerifyDeps): Promise<number> {
  const pending = await deps.store.listVerifications('DUO_PENDING', { limit: 200 });
  for (const v of pending) {
    if (v.duoTxid) {
      void settlePush(deps, v, v.duoTxid).catch((err) =>
        deps.logger.error({ err }, `verify: resuming ${v.id} failed`),
      );
    } else if (Date.now() - Date.parse(v.updatedAt) > PUSH_START_GRACE_MS) {
      // Interrupted between the Yes and the push: whether a push went out is unknown, so fail closed.
      await escalate(deps, v, 'duo_error', 'interrupted before the push was recorded');
    }
    // else: a Yes moments ago, most likely another replica between the answer and storing its push
    // (a rolling restart). Left to it; if it died too, the sweep escalates at the DUO_PENDING deadline.
  }
  return pending.length;
}
