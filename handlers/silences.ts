/** Silences: active ones as decide() consumes them (a selector each, matched against a call), and the staff commands. */
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import { matchesAnyGlob } from '../lib/glob.js';
import { NotFoundError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { Silence, SilenceSelector } from '../store/types.js';
import type { SilenceLookup, SilenceRef } from './decide.js';

/**
 * A SilenceLookup over a snapshot of active silences. `rule` and `principal` values are globs
 * (`rule:iam-*`, `principal:arn:aws:sts::*:assumed-role/ci-*`); `event` and `account` are exact.
 * `user` silences name a Slack user and are applied after the engineer is known (see `userSilence`).
 */
export function silenceLookup(silences: readonly Silence[]): SilenceLookup {
  const active = silences.filter((s) => s.selector.kind !== 'user');
  return {
    match({ record, principal, ruleIds }): SilenceRef | undefined {
      for (const s of active) {
        const { kind, value } = s.selector;
        const hit =
          (kind === 'rule' && ruleIds.some((id) => matchesAnyGlob(id, [value]))) ||
          (kind === 'event' && record.eventName.toLowerCase() === value.toLowerCase()) ||
          (kind === 'account' && (record.recipientAccountId === value || principal.accountId === value)) ||
          (kind === 'principal' &&
            (matchesAnyGlob(principal.arn, [value]) || matchesAnyGlob(principal.issuerArn, [value])));
        if (hit) return { id: s.id, reason: s.reason, createdBy: s.createdBy };
      }
      return undefined;
    },
  };
}

/** The `user:` silence covering a Slack user, if any. */
export function userSilence(
  silences: readonly Silence[],
  slackUserId: string | undefined,
): Silence | undefined {
  if (!slackUserId) return undefined;
  return silences.find((s) => s.selector.kind === 'user' && s.selector.value === slackUserId);
}

// ---------------------------------------------------------------------------------------------------
// Staff commands on silences: create, list, end. Each is audited with the Slack user who ran it.

export interface SilenceCommandDeps {
  store: Store;
  audit: AuditTrail;
  clock?: () => Date;
}

/** How a selector reads in messages and audit records, e.g. `event:CreateUser`. */
export const selectorText = (s: SilenceSelector): string => `${s.kind}:${s.value}`;

/**
 * `/secbot silence`: store the silence (it applies from the next drain run) and audit it.
 *
 * @example await createSilenceFor(deps, { actor: 'U0STAFF', selector, durationMs: 3_600_000, reason: 'drill' })
 */
export async function createSilenceFor(
  deps: SilenceCommandDeps,
  input: { actor: string; selector: SilenceSelector; durationMs: number; reason: string },
): Promise<Silence> {
  const now = deps.clock?.() ?? new Date();
  const silence = await deps.store.createSilence({
    selector: input.selector,
    reason: input.reason,
    createdBy: input.actor,
    expiresAt: new Date(now.getTime() + input.durationMs),
    now,
  });
  deps.audit.write(
    auditEvent({
      action: 'silence.created',
      outcome: 'success',
      category: ['configuration'],
      message: `${input.actor} silenced ${selectorText(silence.selector)} until ${silence.expiresAt}: ${silence.reason}`,
      actor: input.actor,
      at: now,
      secbot: {
        silence_id: silence.id,
        selector: silence.selector,
        reason: silence.reason,
        expires_at: silence.expiresAt,
      },
    }),
  );
  return silence;
}

/** `/secbot silences`: the active silences, soonest expiry first (audited: staff looked). */
export async function listSilencesFor(deps: SilenceCommandDeps, actor: string): Promise<Silence[]> {
  const now = deps.clock?.() ?? new Date();
  const silences = await deps.store.listActiveSilences(now);
  deps.audit.write(
    auditEvent({
      action: 'silence.listed',
      outcome: 'success',
      category: ['configuration'],
      message: `${actor} listed ${silences.length} active silence(s)`,
      actor,
      at: now,
      secbot: { silences: silences.length },
    }),
  );
  return silences.sort((a, b) => (a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : 0));
}

export type EndSilenceResult = { ok: true; silence: Silence } | { ok: false; message: string };

/** `/secbot unsilence` and the Home's **Unsilence**: end the silence now. */
export async function endSilence(
  deps: SilenceCommandDeps,
  input: { actor: string; id: string },
): Promise<EndSilenceResult> {
  const now = deps.clock?.() ?? new Date();
  try {
    const silence = await deps.store.deleteSilence(input.id, input.actor, now);
    deps.audit.write(
      auditEvent({
        action: 'silence.deleted',
        outcome: 'success',
        category: ['configuration'],
        message: `${input.actor} ended silence ${silence.id} (${selectorText(silence.selector)}) after ${silence.hits} absorbed call(s)`,
        actor: input.actor,
        at: now,
        secbot: { silence_id: silence.id, selector: silence.selector, hits: silence.hits },
      }),
    );
    return { ok: true, silence };
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    deps.audit.write(
      auditEvent({
        action: 'silence.deleted',
        outcome: 'failure',
        category: ['configuration'],
        message: `${input.actor} tried to end silence ${input.id}, which is not active`,
        actor: input.actor,
        at: now,
        secbot: { silence_id: input.id },
      }),
    );
    return {
      ok: false,
      message: `There is no active silence \`${input.id}\` (it may have expired or been ended already). Nothing was changed.`,
    };
  }
}
