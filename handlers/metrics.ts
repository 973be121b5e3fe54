/**
 * The per-day counters behind the App Home figures: their names, how outcomes are counted, and how the
 * figures (and an approximate median time to confirm) are read back. Days are UTC `YYYY-MM-DD`; the
 * counters live in DynamoDB (atomic ADD), so they survive restarts and add up across replicas.
 *
 * Counter names written by the workflow:
 * - drain: `decided.<action>`, `rule.<id>.<action>`, `verification.opened`, `alert.created`,
 *   `page.queued`, `escalation.unattributed`, `drain.poison`, `silence.<id>.hits`
 * - sweep: `verification.sent` (the DM was delivered), `page.sent` (PagerDuty accepted a page)
 * - verify: `verification.confirmed`, `confirm_time.<bucket>`, `rule.<id>.confirmed` (per call)
 * - escalate: `verification.escalated`, `verification.escalated.<kind>`, `rule.<id>.escalated` (per call)
 * - staged rules (drain): `rule.<id>.staged.match`, `rule.<id>.staged.would_<action>`, `…staged.would_page`
 * - watchdog: `drain.heartbeats`, `watchdog.opened.<kind>`
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { Counters, Verification, VerificationCall } from '../store/types.js';
import { approximateQuantile, type QuantileEstimate } from './lag.js';

/** The UTC day of a time, as the counters are keyed. */
export const dayOf = (d: Date): string => d.toISOString().slice(0, 10);

/** The last `n` UTC days ending with the day of `now`, newest first. */
export function lastDays(now: Date, n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(dayOf(new Date(now.getTime() - i * 86_400_000)));
  return out;
}

/**
 * Time-to-confirm histogram buckets (upper bounds). A median cannot be summed across replicas and
 * days, a histogram can: each confirmation adds one to its bucket, and the median is read back by
 * interpolating inside the bucket that holds the middle confirmation.
 */
export const CONFIRM_TIME_BUCKETS: readonly { name: string; upToMs: number }[] = [
  { name: 'le_30s', upToMs: 30_000 },
  { name: 'le_1m', upToMs: 60_000 },
  { name: 'le_2m', upToMs: 120_000 },
  { name: 'le_5m', upToMs: 300_000 },
  { name: 'le_10m', upToMs: 600_000 },
  { name: 'le_15m', upToMs: 900_000 },
  { name: 'le_30m', upToMs: 1_800_000 },
  { name: 'le_1h', upToMs: 3_600_000 },
  { name: 'le_4h', upToMs: 14_400_000 },
  { name: 'le_1d', upToMs: 86_400_000 },
  { name: 'gt_1d', upToMs: Number.POSITIVE_INFINITY },
];
const CONFIRM_TIME_PREFIX = 'confirm_time.';

/** The counter a confirmation taking `ms` (verification opened → Duo approved) adds to. */
export function confirmTimeCounter(ms: number): string {
  const b = CONFIRM_TIME_BUCKETS.find((x) => Math.max(0, ms) <= x.upToMs) ?? CONFIRM_TIME_BUCKETS.at(-1);
  return `${CONFIRM_TIME_PREFIX}${b?.name ?? 'gt_1d'}`;
}

/** The estimated median time to confirm (linear within its bucket; `atLeast` in the open-ended last one). */
export type MedianEstimate = QuantileEstimate;

/**
 * The approximate median time to confirm from the histogram counters, or undefined with none.
 * Accuracy is that of the buckets (e.g. "between 1 and 2 minutes", interpolated linearly).
 *
 * @example approximateMedian({ 'confirm_time.le_1m': 1, 'confirm_time.le_2m': 1 }) // { ms: 60000, … }
 */
export function approximateMedian(counters: Counters): MedianEstimate | undefined {
  return approximateQuantile(CONFIRM_TIME_BUCKETS, counters, 0.5, CONFIRM_TIME_PREFIX);
}

/** `rule.<id>.confirmed` / `rule.<id>.escalated`: each call of the verification counts for each of its rules. */
export function outcomeCountersByRule(
  outcome: 'confirmed' | 'escalated',
  calls: readonly Pick<VerificationCall, 'ruleIds'>[],
): Counters {
  const out: Counters = {};
  for (const c of calls) {
    for (const id of new Set(c.ruleIds)) {
      const name = `rule.${id}.${outcome}`;
      out[name] = (out[name] ?? 0) + 1;
    }
  }
  return out;
}

/** Add counters for the day of `at`; a failure is logged, never thrown (figures must not break the workflow). */
export async function recordCounters(
  deps: { store: Pick<Store, 'incrementCounters'>; logger: Logger },
  at: Date,
  counts: Counters,
): Promise<void> {
  if (Object.keys(counts).length === 0) return;
  try {
    await deps.store.incrementCounters(dayOf(at), counts);
  } catch (err) {
    deps.logger.warn({ err }, `metrics: could not record counters ${Object.keys(counts).join(', ')}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Reading figures back

/** What the App Home shows for one period. */
export interface Figures {
  decided: { log: number; notify: number; alert: number };
  verifications: { opened: number; sent: number; confirmed: number; escalated: number };
  /** Escalations by why (`EscalationKind`), plus `unattributed` notify calls that went straight to the team. */
  escalations: Record<string, number>;
  medianConfirm?: MedianEstimate;
  pagesSent: number;
}

const ESCALATED_PREFIX = 'verification.escalated.';

export function figuresFrom(c: Counters): Figures {
  const n = (name: string) => c[name] ?? 0;
  const escalations: Record<string, number> = {};
  for (const [name, v] of Object.entries(c)) {
    if (name.startsWith(ESCALATED_PREFIX) && v > 0) escalations[name.slice(ESCALATED_PREFIX.length)] = v;
  }
  if (n('escalation.unattributed') > 0) escalations.unattributed = n('escalation.unattributed');
  return {
    decided: { log: n('decided.log'), notify: n('decided.notify'), alert: n('decided.alert') },
    verifications: {
      opened: n('verification.opened'),
      sent: n('verification.sent'),
      confirmed: n('verification.confirmed'),
      escalated: n('verification.escalated'),
    },
    escalations,
    medianConfirm: approximateMedian(c),
    pagesSent: n('page.sent'),
  };
}

/** One rule's notify volume and how its calls ended. */
export interface RuleNoise {
  ruleId: string;
  /** Calls the rule sent to an engineer. */
  notify: number;
  confirmed: number;
  escalated: number;
  /** confirmed / (confirmed + escalated), when any call closed. */
  confirmedShare?: number;
  /** Nearly always confirmed (≥ 95 % of at least 10 closed calls): a candidate for `action: log`. */
  candidateForLog: boolean;
}

export const CANDIDATE_MIN_CLOSED = 10;
export const CANDIDATE_MIN_SHARE = 0.95;
const RULE_OUTCOMES = new Set(['notify', 'confirmed', 'escalated']);

/** The rules that asked engineers most, noisiest first. */
export function noisiestRules(c: Counters, limit = 8): RuleNoise[] {
  const byRule = new Map<string, { notify: number; confirmed: number; escalated: number }>();
  for (const [name, v] of Object.entries(c)) {
    if (!name.startsWith('rule.')) continue;
    const dot = name.lastIndexOf('.');
    const what = name.slice(dot + 1);
    const ruleId = name.slice('rule.'.length, dot);
    if (!ruleId || !RULE_OUTCOMES.has(what)) continue;
    const r = byRule.get(ruleId) ?? { notify: 0, confirmed: 0, escalated: 0 };
    r[what as 'notify' | 'confirmed' | 'escalated'] += v;
    byRule.set(ruleId, r);
  }
  return [...byRule]
    .filter(([, r]) => r.notify > 0)
    .map(([ruleId, r]) => {
      const closed = r.confirmed + r.escalated;
      const confirmedShare = closed > 0 ? r.confirmed / closed : undefined;
      return {
        ruleId,
        ...r,
        confirmedShare,
        candidateForLog: closed >= CANDIDATE_MIN_CLOSED && (confirmedShare ?? 0) >= CANDIDATE_MIN_SHARE,
      };
    })
    .sort((a, b) => b.notify - a.notify || (a.ruleId < b.ruleId ? -1 : 1))
    .slice(0, limit);
}

/**
 * Count how a verification ended: `verification.confirmed` with its time-to-confirm bucket, or
 * `verification.escalated` and `verification.escalated.<kind>`; and the outcome for the rules of
 * every call in it. Called once, by whoever won the transition.
 */
export async function recordVerificationOutcome(
  deps: { store: Pick<Store, 'incrementCounters' | 'listVerificationCalls'>; logger: Logger },
  v: Pick<Verification, 'id' | 'createdAt' | 'preview'>,
  outcome: { kind: 'confirmed' } | { kind: 'escalated'; why: string },
  at: Date,
): Promise<void> {
  const calls = await deps.store.listVerificationCalls(v.id, { limit: 10_000 }).catch((err) => {
    deps.logger.warn({ err }, `metrics: could not list the calls of ${v.id}; counting its preview`);
    return v.preview;
  });
  const counts: Counters = outcomeCountersByRule(outcome.kind, calls.length > 0 ? calls : v.preview);
  if (outcome.kind === 'confirmed') {
    counts['verification.confirmed'] = 1;
    counts[confirmTimeCounter(at.getTime() - Date.parse(v.createdAt))] = 1;
  } else {
    counts['verification.escalated'] = 1;
    counts[`verification.escalated.${outcome.why}`] = 1;
  }
  await recordCounters(deps, at, counts);
}
