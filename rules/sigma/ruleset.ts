/**
 * A RuleSet with its event-source / event-name index (A–Z folded, as Sigma's plain equality): `candidates(record)` returns, in load order, the
 * rules whose eventName pin (if any) includes the record's eventName and whose eventSource pin (if any)
 * includes its eventSource. Lists are computed once per (name, source) pair as spelled in records and
 * cached, so a call is two Map lookups and allocates nothing in steady state.
 */
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import type { Rule, RuleIssue, RuleSet } from '../types.js';
import { asciiLower } from './detection.js';

/** Distinct (name, source) spellings remembered; beyond this the lookup still works, uncached. */
const MAX_CACHED_PAIRS = 20_000;

interface Pin {
  rule: Rule;
  position: number;
  /** Lower-cased pinned values; undefined = the rule does not pin the field. */
  sources?: ReadonlySet<string>;
}

// A–Z folded, exactly as plain Sigma equality folds (pins are ASCII): a candidate's name and source
// then satisfy its pinned equalities, which Rule.matchesCandidate relies on.
const lowerSet = (xs: readonly string[] | undefined) =>
  xs === undefined ? undefined : new Set(xs.map(asciiLower));

/** Builds a RuleSet over `rules` (kept in the given order). */
export function buildRuleSet(rules: readonly Rule[], warnings: readonly RuleIssue[] = []): RuleSet {
  const ordered = [...rules];
  // Case-insensitive: Sigma matches `eventName: StopLogging` on "stoplogging" too.
  const byName = new Map<string, Pin[]>();
  const anyName: Pin[] = [];
  ordered.forEach((rule, position) => {
    const pin: Pin = { rule, position, sources: lowerSet(rule.eventSources) };
    if (rule.eventNames === undefined) {
      anyName.push(pin);
      return;
    }
    for (const name of lowerSet(rule.eventNames) ?? []) {
      const list = byName.get(name) ?? [];
      list.push(pin);
      byName.set(name, list);
    }
  });
  const unpinned = Object.freeze(
    ordered.filter((r) => r.eventNames === undefined && r.eventSources === undefined),
  );

  /** The candidates for a lower-cased name and source (undefined: the record has no string there). */
  const select = (name: string | undefined, source: string | undefined): readonly Rule[] => {
    const named = name === undefined ? undefined : byName.get(name);
    const pins = named ? [...named, ...anyName].sort((a, b) => a.position - b.position) : anyName;
    const out: Rule[] = [];
    for (const p of pins) {
      if (p.sources === undefined || (source !== undefined && p.sources.has(source))) out.push(p.rule);
    }
    return Object.freeze(out);
  };

  // name as spelled → source as spelled → candidates.
  const cache = new Map<string, Map<string, readonly Rule[]>>();
  let cached = 0;
  const lookup = (name: string, source: string): readonly Rule[] => {
    const list = select(asciiLower(name), asciiLower(source));
    if (cached < MAX_CACHED_PAIRS) {
      let bySource = cache.get(name);
      if (!bySource) {
        bySource = new Map();
        cache.set(name, bySource);
      }
      bySource.set(source, list);
      cached++;
    }
    return list;
  };

  return {
    rules: ordered,
    warnings: [...warnings],
    indexed: true,
    candidates(record: CloudTrailRecord): readonly Rule[] {
      const name = (record as { eventName?: unknown }).eventName;
      const source = (record as { eventSource?: unknown }).eventSource;
      if (typeof name !== 'string' || typeof source !== 'string') {
        // Not a decoded record (the decoder requires both): no index, only what pins neither or one.
        return typeof name === 'string'
          ? select(asciiLower(name), undefined)
          : typeof source === 'string'
            ? select(undefined, asciiLower(source))
            : unpinned;
      }
      return cache.get(name)?.get(source) ?? lookup(name, source);
    },
  };
}
