/**
 * A RuleSet with its event-name index: `candidates(record)` returns the rules that pin the record's
 * eventName plus the rules that pin no eventName, in load order. Lists are precomputed per name, and
 * names seen for the first time are cached, so a call allocates nothing in steady state.
 */
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import type { Rule, RuleIssue, RuleSet } from '../types.js';

/** Distinct unknown event names remembered; beyond this the lookup still works, uncached. */
const MAX_CACHED_NAMES = 10_000;

/** Builds a RuleSet over `rules` (kept in the given order). */
export function buildRuleSet(rules: readonly Rule[], warnings: readonly RuleIssue[] = []): RuleSet {
  const ordered = [...rules];
  const position = new Map<Rule, number>(ordered.map((r, i) => [r, i]));
  const unpinned = Object.freeze(ordered.filter((r) => r.eventNames === undefined));
  // Case-insensitive: Sigma matches `eventName: StopLogging` on "stoplogging" too.
  const byLower = new Map<string, readonly Rule[]>();
  const pinned = new Map<string, Rule[]>();
  for (const r of ordered) {
    for (const name of r.eventNames ?? []) {
      const k = name.toLowerCase();
      const list = pinned.get(k) ?? [];
      if (!list.includes(r)) list.push(r);
      pinned.set(k, list);
    }
  }
  for (const [k, list] of pinned) {
    const merged = [...list, ...unpinned].sort((a, b) => (position.get(a) ?? 0) - (position.get(b) ?? 0));
    byLower.set(k, Object.freeze(merged));
  }
  // Exact spellings: the names as written in rules, ready before the first record.
  const exact = new Map<string, readonly Rule[]>();
  for (const r of ordered)
    for (const name of r.eventNames ?? []) exact.set(name, byLower.get(name.toLowerCase()) ?? unpinned);

  const lookup = (name: string): readonly Rule[] => {
    const list = byLower.get(name.toLowerCase()) ?? unpinned;
    if (exact.size < MAX_CACHED_NAMES + byLower.size) exact.set(name, list);
    return list;
  };

  return {
    rules: ordered,
    warnings: [...warnings],
    candidates(record: CloudTrailRecord): readonly Rule[] {
      const name = (record as { eventName?: unknown }).eventName;
      if (typeof name !== 'string') return unpinned;
      return exact.get(name) ?? lookup(name);
    },
  };
}
