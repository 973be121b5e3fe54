/** Active silences as decide() consumes them: a selector each, matched against a call. */
import { matchesAnyGlob } from '../lib/glob.js';
import type { Silence } from '../store/types.js';
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
