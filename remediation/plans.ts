/**
 * Which remediations an alert offers: the inverse of each call whose rule names one, then the
 * quarantine of each principal; de-duplicated, capped, and with the reasons for those that cannot be.
 */
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { inverseOf } from './inverses.js';
import { quarantineOf } from './quarantine.js';
import { planKey, type RemediationGap, type RemediationPlan, type RuleRemediationKind } from './types.js';

/** At most this many remediations per alert (one Slack section each); the rest are listed as gaps. */
export const MAX_REMEDIATIONS = 10;
/** At most this many "cannot" lines are kept per alert. */
export const MAX_GAPS = 20;

export interface Remediations {
  plans: RemediationPlan[];
  gaps: RemediationGap[];
}

export const NO_REMEDIATIONS: Remediations = { plans: [], gaps: [] };

/**
 * The remediations for one call: the inverse for each kind its matching rules name, and the
 * quarantine of its principal.
 *
 * @example
 * remediationsFor(record, ['revoke_security_group_ingress'])
 * // { plans: [revoke plan, quarantine plan], gaps: [] }
 */
export function remediationsFor(
  record: CloudTrailRecord,
  kinds: Iterable<RuleRemediationKind>,
  opts: { quarantine?: boolean } = {},
): Remediations {
  const out: Remediations = { plans: [], gaps: [] };
  const gap = (g: Omit<RemediationGap, 'eventId' | 'eventName'>) =>
    out.gaps.push({ ...g, eventId: record.eventID, eventName: record.eventName });
  for (const kind of new Set(kinds)) {
    const r = inverseOf(kind, record);
    if (r.ok) out.plans.push(r.plan);
    else gap({ kind, reason: r.reason });
  }
  if (opts.quarantine !== false) {
    const q = quarantineOf(record);
    if (q.ok) out.plans.push(q.plan);
    else gap({ kind: 'quarantine', reason: q.reason });
  }
  return merge([out]);
}

/**
 * Several calls' remediations as one alert's: inverses first, then quarantines, each offered once,
 * at most `max`; what does not fit is listed as a gap so nobody thinks it was forgotten.
 */
export function merge(parts: readonly Remediations[], max = MAX_REMEDIATIONS): Remediations {
  const seen = new Set<string>();
  const all = parts
    .flatMap((p) => p.plans)
    .filter((p) => {
      const k = planKey(p);
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
  const ordered = [
    ...all.filter((p) => p.kind !== 'quarantine'),
    ...all.filter((p) => p.kind === 'quarantine'),
  ];
  const gapSeen = new Set<string>();
  const gaps = parts
    .flatMap((p) => p.gaps)
    .filter((g) => {
      // One line per reason: the same principal's quarantine gap repeats on every call.
      const k = g.kind === 'quarantine' ? `q:${g.reason}` : `${g.kind}:${g.eventId}:${g.reason}`;
      if (gapSeen.has(k)) return false;
      gapSeen.add(k);
      return true;
    });
  const extra = ordered.slice(max);
  if (extra[0]) {
    gaps.push({
      kind: extra[0].kind,
      reason: `${extra.length} more remediation(s) than one alert holds (${max}); undo those calls by hand`,
    });
  }
  return { plans: ordered.slice(0, max), gaps: gaps.slice(0, MAX_GAPS) };
}
