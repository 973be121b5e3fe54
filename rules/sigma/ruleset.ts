/**
 * A RuleSet with its event-source / event-name index (A–Z folded, as Sigma's plain equality): `candidates(record)` returns, in load order, the
 * rules whose eventName pin (if any) includes the record's eventName and whose eventSource pin (if any)
 * includes its eventSource. Lists are computed once per (name, source) pair as spelled in records and
 * cached, so a call is two Map lookups and allocates nothing in steady state.
 */
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import type { CandidateTest, Rule, RuleIssue, RuleSet } from '../types.js';
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

  // One test per rule: what a candidate is judged with (the index has already checked its pins).
  const testOf = new Map<Rule, CandidateTest>(
    ordered.map((rule) => {
      const candidate = rule.matchesCandidate;
      const test: (r: CloudTrailRecord) => boolean = candidate
        ? (candidate as (r: CloudTrailRecord) => boolean)
        : (r) => rule.matches(r);
      return [rule, Object.freeze({ rule, test })];
    }),
  );
  interface Lists {
    rules: readonly Rule[];
    tests: readonly CandidateTest[];
  }
  const lists = (rules: Rule[]): Lists => ({
    rules: Object.freeze(rules),
    tests: Object.freeze(rules.map((r) => testOf.get(r) as CandidateTest)),
  });

  /** The candidates for a lower-cased name and source (undefined: the record has no string there). */
  const select = (name: string | undefined, source: string | undefined): Lists => {
    const named = name === undefined ? undefined : byName.get(name);
    const pins = named ? [...named, ...anyName].sort((a, b) => a.position - b.position) : anyName;
    const out: Rule[] = [];
    for (const p of pins) {
      if (p.sources === undefined || (source !== undefined && p.sources.has(source))) out.push(p.rule);
    }
    return lists(out);
  };
  const unpinnedLists = lists([...unpinned]);

  // name as spelled → its first source as spelled (most names have one) and its lists, then any other
  // sources: one Map lookup and a string comparison per record in the common case.
  interface Entry {
    source: string;
    lists: Lists;
    others?: Map<string, Lists>;
  }
  const cache = new Map<string, Entry>();
  let cached = 0;
  const lookup = (name: string, source: string): Lists => {
    const found = select(asciiLower(name), asciiLower(source));
    if (cached < MAX_CACHED_PAIRS) {
      cached++;
      const entry = cache.get(name);
      if (!entry) cache.set(name, { source, lists: found });
      else {
        entry.others ??= new Map();
        entry.others.set(source, found);
      }
    }
    return found;
  };
  const listsFor = (record: CloudTrailRecord): Lists => {
    const name = (record as { eventName?: unknown }).eventName;
    const source = (record as { eventSource?: unknown }).eventSource;
    if (typeof name !== 'string' || typeof source !== 'string') {
      // Not a decoded record (the decoder requires both): no index, only what pins neither or one.
      return typeof name === 'string'
        ? select(asciiLower(name), undefined)
        : typeof source === 'string'
          ? select(undefined, asciiLower(source))
          : unpinnedLists;
    }
    const entry = cache.get(name);
    if (entry !== undefined) {
      if (entry.source === source) return entry.lists;
      const other = entry.others?.get(source);
      if (other !== undefined) return other;
    }
    return lookup(name, source);
  };

  return {
    rules: ordered,
    warnings: [...warnings],
    indexed: true,
    candidates: (record) => listsFor(record).rules,
    candidateTests: (record) => listsFor(record).tests,
  };
}
