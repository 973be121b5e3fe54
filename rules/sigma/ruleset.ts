/**
 * A RuleSet with its event-source / event-name index (A–Z folded, as Sigma's plain equality):
 * `candidates(record)` returns, in load order, the rules whose eventName pin (if any) includes the
 * record's eventName and whose eventSource pin (if any) includes its eventSource, less those whose
 * `userIdentity.type` pin excludes the caller's type. Lists are computed once per (name, source) pair
 * as spelled in records (then per identity type) and cached, so a call is a Map lookup or two and
 * allocates nothing in steady state.
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
    /** Whether some of the rules pin `userIdentity.type` (then {@link byType} narrows further). */
    typed: boolean;
    /** By the caller's identity type as spelled in records: these lists without other types' rules. */
    byType?: Map<string, Lists>;
    /** These lists for a record with no identity type: without any type-pinned rule. */
    untyped?: Lists;
  }
  const typesOf = new Map<Rule, ReadonlySet<string> | undefined>(
    ordered.map((rule) => [rule, lowerSet(rule.identityTypes)]),
  );
  const lists = (rules: Rule[]): Lists => ({
    rules: Object.freeze(rules),
    tests: Object.freeze(rules.map((r) => testOf.get(r) as CandidateTest)),
    typed: rules.some((r) => typesOf.get(r) !== undefined),
  });
  /** `l` for a caller whose identity type is `type` (lower-cased; undefined: none). */
  const narrow = (l: Lists, type: string | undefined): Lists =>
    lists(
      l.rules.filter((r) => {
        const types = typesOf.get(r);
        return types === undefined || (type !== undefined && types.has(type));
      }) as Rule[],
    );
  let typedCached = 0;
  /**
   * The lists for the record's caller type, when they pin any: `userIdentity` an object (not an array)
   * whose `type` is a string, or undefined, and no literal `userIdentity.type` key on the record;
   * anything else keeps every rule (each still runs its own test, so this only skips work). Plain
   * reads, no own-property checks: an inherited string type can only keep rules the test then refuses
   * (the test reads own properties), and an undefined one is what a missing type is to an equality.
   */
  const forType = (l: Lists, record: CloudTrailRecord): Lists => {
    const ui = (record as { userIdentity?: unknown }).userIdentity;
    if (typeof ui !== 'object' || ui === null || Array.isArray(ui)) return l;
    if ((record as Record<string, unknown>)['userIdentity.type'] !== undefined) return l;
    const type = (ui as { type?: unknown }).type;
    if (type === undefined) {
      l.untyped ??= narrow(l, undefined);
      return l.untyped;
    }
    if (typeof type !== 'string') return l;
    const found = l.byType?.get(type);
    if (found !== undefined) return found;
    const made = narrow(l, asciiLower(type));
    if (typedCached < MAX_CACHED_PAIRS) {
      typedCached++;
      l.byType ??= new Map();
      l.byType.set(type, made);
    }
    return made;
  };

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
      // Not a decoded record (the decoder requires both): no index, only what pins neither or one
      // (and no narrowing by caller type either).
      return typeof name === 'string'
        ? select(asciiLower(name), undefined)
        : typeof source === 'string'
          ? select(undefined, asciiLower(source))
          : unpinnedLists;
    }
    const entry = cache.get(name);
    let found: Lists | undefined;
    if (entry !== undefined) {
      found = entry.source === source ? entry.lists : entry.others?.get(source);
    }
    found ??= lookup(name, source);
    return found.typed ? forType(found, record) : found;
  };

  return {
    rules: ordered,
    warnings: [...warnings],
    indexed: true,
    candidates: (record) => listsFor(record).rules,
    candidateTests: (record) => listsFor(record).tests,
  };
}
