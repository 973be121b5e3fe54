/**
 * A RuleSet with its event-source / event-name index (A–Z folded, as Sigma's plain equality):
 * `candidates(record)` returns, in load order, the rules whose eventName pin (if any) includes the
 * record's eventName and whose eventSource pin (if any) includes its eventSource, less those whose
 * `userIdentity.type` pin excludes the caller's type and those whose index filter (a test of the
 * name or source beyond equality, `eventName|startswith`) refuses the pair. Lists are computed once
 * per (name, source) pair as spelled in records (then per identity type), cached, and shared by the
 * pairs that have the same rules, so a call is a table lookup and a string comparison or two and
 * allocates nothing in steady state. Candidates whose test is data (a field check, a plan of checks:
 * values.ts, detection.ts) are judged by shared code from one object each.
 */
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import type { CandidateTest, Rule, RuleIssue, RuleSet } from '../types.js';
import { asciiLower, checkPlanOf } from './detection.js';
import { FieldCheck, fieldCheckOf } from './values.js';

/** Distinct (name, source) spellings remembered; beyond this the lookup still works, uncached. */
const MAX_CACHED_PAIRS = 20_000;

interface Pin {
  rule: Rule;
  position: number;
  /** Lower-cased pinned values; undefined = the rule does not pin the field. */
  sources?: ReadonlySet<string>;
}

/** Caller types remembered per candidate list (IAMUser, AssumedRole, Root…); others are worked out each time. */
const MAX_TYPES_PER_LIST = 16;

/** A candidate list: the rules, their tests, and the same narrowed by the caller's identity type. */
class Lists {
  /** Caller types as spelled in records, and these lists without other types' rules (same order). */
  readonly typeNames: string[] = [];
  readonly typeLists: Lists[] = [];
  /** These lists for a record with no identity type: without any type-pinned rule. */
  untyped: Lists | undefined = undefined;
  constructor(
    readonly rules: readonly Rule[],
    readonly tests: readonly CandidateTest[],
    /** Whether some of the rules pin `userIdentity.type` (then the type narrows further). */
    readonly typed: boolean,
  ) {}
}

/** The lists of an event name as spelled: for its first source as spelled, then for any other. */
class Entry {
  others: Map<string, Lists> | undefined = undefined;
  constructor(
    readonly source: string,
    readonly lists: Lists,
  ) {}
}

/**
 * A table of event names as records spell them. A Map would hash each record's name in full (a fresh
 * string, whose hash no one has computed yet); this one places a name by its length and four of its
 * characters, and compares the strings it finds there, so a lookup reads the name once.
 */
export class NameTable<V> {
  private keys: (string | undefined)[] = new Array<string | undefined>(64).fill(undefined);
  private values: (V | undefined)[] = new Array<V | undefined>(64).fill(undefined);
  private count = 0;

  static slot(name: string): number {
    const n = name.length;
    if (n === 0) return 0;
    let h = Math.imul(n, 0x9e3779b1) ^ name.charCodeAt(0);
    h = Math.imul(h ^ name.charCodeAt(n - 1), 0x85ebca6b);
    h = Math.imul(h ^ name.charCodeAt(n >> 1), 0xc2b2ae35);
    h = Math.imul(h ^ name.charCodeAt((3 * n) >> 2), 0x85ebca6b);
    return h ^ (h >>> 16);
  }

  get size(): number {
    return this.count;
  }

  get(name: string): V | undefined {
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let i = NameTable.slot(name) & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) return undefined;
      if (k === name) return this.values[i];
    }
  }

  set(name: string, value: V): void {
    if (2 * (this.count + 1) > this.keys.length) this.grow();
    const keys = this.keys;
    const mask = keys.length - 1;
    for (let i = NameTable.slot(name) & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) {
        keys[i] = name;
        this.values[i] = value;
        this.count++;
        return;
      }
      if (k === name) {
        this.values[i] = value;
        return;
      }
    }
  }

  private grow(): void {
    const keys = this.keys;
    const values = this.values;
    this.keys = new Array<string | undefined>(2 * keys.length).fill(undefined);
    this.values = new Array<V | undefined>(2 * keys.length).fill(undefined);
    this.count = 0;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) this.set(k, values[i] as V);
    }
  }
}

/**
 * A candidate whose test is one field check (a rule's `matchesCandidate` is that check's field test):
 * the check's data and the rule in one object, judged by FieldCheck's shared code.
 */
class CheckedCandidate extends FieldCheck implements CandidateTest {
  constructor(
    readonly rule: Rule,
    c: FieldCheck,
  ) {
    super(c.shape, c.leaf, c.lit, c.lower, c.missing, c.str);
  }
  test(record: CloudTrailRecord): boolean {
    return this.check(record, undefined);
  }
}

/** A candidate test for a new list: a copy of a checked candidate, else the same object. */
function copyOf(c: CandidateTest): CandidateTest {
  if (c instanceof CheckedCandidate) return new CheckedCandidate(c.rule, c);
  if (c instanceof PlannedCandidate) {
    return new PlannedCandidate(
      c.rule,
      c.all.map((f) => f.copy()),
      c.none.map((g) => g.map((f) => f.copy())),
    );
  }
  return c;
}

/** A candidate whose test is a CheckPlan (detection.ts): its checks, judged in turn. */
class PlannedCandidate implements CandidateTest {
  constructor(
    readonly rule: Rule,
    readonly all: readonly FieldCheck[],
    readonly none: readonly (readonly FieldCheck[])[],
  ) {}
  test(record: CloudTrailRecord): boolean {
    const all = this.all;
    for (let i = 0; i < all.length; i++) if (!(all[i] as FieldCheck).check(record, undefined)) return false;
    const none = this.none;
    group: for (let i = 0; i < none.length; i++) {
      const checks = none[i] as readonly FieldCheck[];
      for (let j = 0; j < checks.length; j++) {
        if (!(checks[j] as FieldCheck).check(record, undefined)) continue group;
      }
      return false;
    }
    return true;
  }
}

/** Whether the rule's index filter admits this name and source (a filter that throws admits). */
function admits(rule: Rule, name: string, source: string): boolean {
  if (!rule.indexFilter) return true;
  try {
    return rule.indexFilter(name, source);
  } catch {
    return true;
  }
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

  // One test per rule: what a candidate is judged with (the index has already checked its pins). A
  // test that is a single field check is judged from one object (values.ts FieldCheck).
  const testOf = new Map<Rule, CandidateTest>(
    ordered.map((rule) => {
      const candidate = rule.matchesCandidate;
      const check = fieldCheckOf(candidate);
      if (check) return [rule, new CheckedCandidate(rule, check)];
      const plan = checkPlanOf(candidate);
      if (plan) return [rule, new PlannedCandidate(rule, plan.all, plan.none)];
      const test: (r: CloudTrailRecord) => boolean = candidate
        ? (candidate as (r: CloudTrailRecord) => boolean)
        : (r) => rule.matches(r);
      return [rule, Object.freeze({ rule, test })];
    }),
  );
  const typesOf = new Map<Rule, ReadonlySet<string> | undefined>(
    ordered.map((rule) => [rule, lowerSet(rule.identityTypes)]),
  );
  // Lists are shared by every name, source and caller type that has the same rules (most names have
  // none of their own: their lists are the unpinned rules), so a record's lookup mostly lands on lists
  // that other records keep in cache.
  const positionOf = new Map<Rule, number>(ordered.map((rule, position) => [rule, position]));
  const shared = new Map<string, Lists>();
  const lists = (rules: Rule[]): Lists => {
    const key = rules.map((r) => positionOf.get(r)).join(',');
    const found = shared.get(key);
    if (found) return found;
    // The list's own copies of its candidates' checks, made together: a record's candidates then sit
    // side by side in memory (with a thousand rules, they are what no other record has kept in cache).
    const made = new Lists(
      Object.freeze(rules),
      Object.freeze(rules.map((r) => copyOf(testOf.get(r) as CandidateTest))),
      rules.some((r) => typesOf.get(r) !== undefined),
    );
    if (shared.size < MAX_CACHED_PAIRS) shared.set(key, made);
    return made;
  };
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
   * The types met are few (IAMUser, AssumedRole, Root…): a short list, compared in turn.
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
    const names = l.typeNames;
    for (let i = 0; i < names.length; i++) if (names[i] === type) return l.typeLists[i] as Lists;
    const made = narrow(l, asciiLower(type));
    if (names.length < MAX_TYPES_PER_LIST && typedCached < MAX_CACHED_PAIRS) {
      typedCached++;
      names.push(type);
      l.typeLists.push(made);
    }
    return made;
  };

  /**
   * The candidates for a name and source as spelled (undefined: the record has no string there): the
   * rules whose pins admit them (A–Z folded) and, when both are strings, whose index filter does.
   */
  const select = (name: string | undefined, source: string | undefined): Lists => {
    const lname = name === undefined ? undefined : asciiLower(name);
    const lsource = source === undefined ? undefined : asciiLower(source);
    const named = lname === undefined ? undefined : byName.get(lname);
    const pins = named ? [...named, ...anyName].sort((a, b) => a.position - b.position) : anyName;
    const out: Rule[] = [];
    for (const p of pins) {
      if (p.sources !== undefined && (lsource === undefined || !p.sources.has(lsource))) continue;
      if (name !== undefined && source !== undefined && !admits(p.rule, name, source)) continue;
      out.push(p.rule);
    }
    return lists(out);
  };
  const unpinnedLists = lists([...unpinned]);

  // name as spelled → its first source as spelled (most names have one) and its lists, then any other
  // sources: one table lookup and a string comparison per record in the common case.
  const cache = new NameTable<Entry>();
  // One string per source spelling, shared by the entries (a few hundred names, a few dozen sources):
  // comparing a record's source reads a string other records keep in cache.
  const sources = new Map<string, string>();
  let cached = 0;
  const lookup = (name: string, source: string): Lists => {
    const found = select(name, source);
    if (cached < MAX_CACHED_PAIRS) {
      cached++;
      let spelled = sources.get(source);
      if (spelled === undefined) {
        spelled = source;
        sources.set(source, source);
      }
      const entry = cache.get(name);
      if (!entry) cache.set(name, new Entry(spelled, found));
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
        ? select(name, undefined)
        : typeof source === 'string'
          ? select(undefined, source)
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
