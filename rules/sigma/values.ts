/**
 * One detection item — `field|mod1|mod2: value(s)` — compiled into a test on a record. Values in a
 * list are ORed (ANDed with `all`); modifiers are validated and applied once, here, at load.
 *
 * Matching rules (the parts the Sigma specification leaves to the implementation):
 * - string values compare case-insensitively with numbers and booleans in their string form, and
 *   search every scalar inside an object value (`requestParameters|contains: Suspended`);
 * - a number matches that number or a decimal string equal to it; a boolean matches that boolean or
 *   the string "true"/"false"; `null` matches a missing field or JSON null;
 * - `cidr` matches an address inside the network, or a CIDR value (`cidrIp: 10.1.0.0/16`) whose whole
 *   network lies inside it;
 * - `re` is an unanchored search (use `^`/`$`), case-sensitive unless `|i`;
 * - `base64` / `base64offset` compare case-sensitively: case changes the encoded bytes;
 * - `neq` holds when the field is present, not null, and equals none of the values;
 * - `exists: false` holds when no branch of the path reaches a value (null counts as present).
 */
import { type Cidr, cidrMatcher, parseCidr } from './cidr.js';
import { FieldPath, fieldNameProblem, internKey, type LeafPred, someScalar } from './fieldpath.js';
import { compileRuleRegex, MAX_REGEX_INPUT, type RegexFlags, testCapped } from './regex.js';
import type { Reporter } from './report.js';
import {
  compileStringTest,
  containsFold,
  endsFold,
  eqFold,
  hasWildcard,
  literalOf,
  longMemoOf,
  type MatchMode,
  memoized,
  memoOf,
  parseSigmaString,
  SHORT_SCAN,
  type StringMemo,
  sharedRegExp,
  startsFold,
} from './strings.js';
import type { Pos, YNode, YScalar } from './yaml.js';

/** A compiled test. `scope` is the object paths are resolved in (the record, or one `within` element). */
export type FieldTest = (scope: unknown, root: unknown) => boolean;

export interface CompiledItem {
  /** Field path (modifiers stripped). */
  field: string;
  test: FieldTest;
  /**
   * When the item is a plain equality on string values without wildcards (what the event-name
   * index can use), those values; otherwise undefined.
   */
  plainValues?: string[];
  /** The test reads the whole record (`root`), not only its scope: `fieldref`. */
  usesRoot?: boolean;
}

const UNSUPPORTED = new Set(['windash', 'wide', 'utf16le', 'utf16be', 'utf16', 'expand']);
const TIME_PARTS = new Set(['minute', 'hour', 'day', 'week', 'month', 'year']);
const KNOWN = new Set([
  'contains',
  'startswith',
  'endswith',
  'all',
  're',
  'i',
  'm',
  's',
  'cidr',
  'exists',
  'gt',
  'gte',
  'lt',
  'lte',
  'neq',
  'base64',
  'base64offset',
  'fieldref',
  'cased',
]);

interface Mods {
  mode: MatchMode;
  all: boolean;
  cased: boolean;
  re: boolean;
  reFlags: RegexFlags;
  cidr: boolean;
  exists: boolean;
  cmp?: 'gt' | 'gte' | 'lt' | 'lte';
  neq: boolean;
  b64?: 'base64' | 'base64offset';
  fieldref: boolean;
  list: string[];
}

/** Parses `field|mod|mod`; reports and returns undefined when the modifiers cannot be honoured. */
function parseKey(key: string, pos: Pos, rep: Reporter): { field: string; mods: Mods } | undefined {
  const [field = '', ...names] = key.split('|');
  const mods: Mods = {
    mode: 'exact',
    all: false,
    cased: false,
    re: false,
    reFlags: {},
    cidr: false,
    exists: false,
    neq: false,
    fieldref: false,
    list: names,
  };
  if (field === '') {
    rep.error(pos, `'${key}': a field name is required before the modifiers`);
    return undefined;
  }
  const bad = fieldNameProblem(field);
  if (bad) {
    rep.error(pos, bad);
    return undefined;
  }
  const seen = new Set<string>();
  let ok = true;
  for (const m of names) {
    if (UNSUPPORTED.has(m) || TIME_PARTS.has(m)) {
      rep.error(pos, `modifier '${m}' is not supported for CloudTrail rules`);
      ok = false;
      continue;
    }
    if (!KNOWN.has(m)) {
      rep.error(pos, `unknown modifier '${m}' in '${key}'`);
      ok = false;
      continue;
    }
    if (seen.has(m)) {
      rep.error(pos, `modifier '${m}' is repeated in '${key}'`);
      ok = false;
      continue;
    }
    seen.add(m);
    switch (m) {
      case 'contains':
      case 'startswith':
      case 'endswith':
        if (mods.mode !== 'exact') {
          rep.error(pos, `'${key}': '${mods.mode}' and '${m}' cannot be combined`);
          ok = false;
        }
        mods.mode = m;
        break;
      case 'all':
        mods.all = true;
        break;
      case 'cased':
        mods.cased = true;
        break;
      case 're':
        mods.re = true;
        break;
      case 'i':
      case 'm':
      case 's':
        if (!mods.re) {
          rep.error(pos, `'${key}': modifier '${m}' is a sub-modifier of 're' and must follow it`);
          ok = false;
        }
        mods.reFlags[m] = true;
        break;
      case 'cidr':
        mods.cidr = true;
        break;
      case 'exists':
        mods.exists = true;
        break;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (mods.cmp) {
          rep.error(pos, `'${key}': '${mods.cmp}' and '${m}' cannot be combined`);
          ok = false;
        }
        mods.cmp = m;
        break;
      case 'neq':
        mods.neq = true;
        break;
      case 'base64':
      case 'base64offset':
        if (mods.b64) {
          rep.error(pos, `'${key}': '${mods.b64}' and '${m}' cannot be combined`);
          ok = false;
        }
        mods.b64 = m;
        break;
      case 'fieldref':
        mods.fieldref = true;
        break;
    }
  }
  if (!ok) return undefined;
  // Which modifiers may go together.
  const others = (allowed: string[]) => names.filter((n) => !allowed.includes(n));
  const refuse = (what: string, allowed: string[]) => {
    const extra = others(allowed);
    if (extra.length > 0) {
      rep.error(pos, `'${key}': '${what}' cannot be combined with ${extra.map((e) => `'${e}'`).join(', ')}`);
      ok = false;
    }
  };
  if (mods.exists) refuse('exists', ['exists']);
  else if (mods.cmp) refuse(mods.cmp, [mods.cmp, 'all']);
  else if (mods.cidr) refuse('cidr', ['cidr']);
  else if (mods.re) refuse('re', ['re', 'i', 'm', 's', 'all', 'cased']);
  else if (mods.fieldref)
    refuse('fieldref', ['fieldref', 'contains', 'startswith', 'endswith', 'cased', 'neq', 'all']);
  else if (mods.neq) refuse('neq', ['neq', 'cased', 'all']);
  if (mods.b64 === 'base64offset' && mods.mode !== 'contains' && ok) {
    rep.error(
      pos,
      `'${key}': 'base64offset' must be followed by 'contains' (the value sits inside the encoded text)`,
    );
    ok = false;
  }
  return ok ? { field, mods } : undefined;
}

/** The scalars of a value node (one scalar, or a list of scalars). */
function scalarsOf(node: YNode, key: string, rep: Reporter): YScalar[] | undefined {
  if (node.kind === 'scalar') return [node];
  if (node.kind === 'map') {
    rep.error(node.pos, `'${key}': a field's value must be a scalar or a list of scalars, not a map`);
    return undefined;
  }
  if (node.items.length === 0) {
    rep.error(node.pos, `'${key}': empty list of values`);
    return undefined;
  }
  const out: YScalar[] = [];
  for (const item of node.items) {
    if (item.kind !== 'scalar') {
      rep.error(item.pos, `'${key}': list values must be scalars`);
      return undefined;
    }
    out.push(item);
  }
  return out;
}

/** The string form a non-string scalar takes under string modifiers: as written in the file. */
const textOf = (v: YScalar): string =>
  typeof v.value === 'string' ? v.value : (v.source ?? String(v.value));

const NUMERIC = /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/;
function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && NUMERIC.test(v)) return Number(v);
  return Number.NaN;
}

/** Applies a test on strings to a record value: scalars in string form, objects searched deeply. */
function onStrings(t: (s: string) => boolean): (v: unknown) => boolean {
  const scalar = (v: unknown): boolean => {
    if (typeof v === 'string') return t(v);
    if (typeof v === 'number' || typeof v === 'boolean') return t(String(v));
    return false;
  };
  return (v) => (typeof v === 'object' && v !== null ? someScalar(v, scalar) : scalar(v));
}

function base64Utf8(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64');
}

/** pySigma's three base64 offsets: the encodings of the value shifted by 0, 1 and 2 bytes, stable middle only. */
export function base64Offsets(s: string): string[] {
  const bytes = Buffer.from(s, 'utf8');
  const start = [0, 2, 3];
  const end = [undefined, -3, -2];
  const out: string[] = [];
  for (let i = 0; i < 3; i++) {
    const shifted = Buffer.concat([Buffer.alloc(i, 0x20), bytes]).toString('base64');
    out.push(shifted.slice(start[i], end[(bytes.length + i) % 3]));
  }
  return out;
}

const anyOf = (tests: ((v: unknown) => boolean)[]): ((v: unknown) => boolean) => {
  if (tests.length === 1) return tests[0] as (v: unknown) => boolean;
  if (tests.length === 2) {
    const [a, b] = tests as [(v: unknown) => boolean, (v: unknown) => boolean];
    return (v) => a(v) || b(v);
  }
  return (v) => {
    for (let k = 0; k < tests.length; k++) if ((tests[k] as (v: unknown) => boolean)(v)) return true;
    return false;
  };
};

/**
 * One value compiled into a test on a single record value (undefined = missing): `any` for any JSON
 * value, `str` the same test for a string (what most fields hold), without the type dispatch.
 */
interface ValueTest {
  any: (x: unknown) => boolean;
  str: (s: string) => boolean;
  /** For an ASCII, case-insensitive substring value: the literal (values of one field combine into one search). */
  containsLiteral?: string;
  /** For an ASCII, case-insensitive exact value: the literal. */
  exactLiteral?: string;
  /**
   * For an ASCII, case-insensitive value without wildcards, in any of the four modes: the mode and the
   * literal. `str` is then exactly {@link literalTest} of it, which {@link fused} runs in place.
   */
  literal?: { mode: MatchMode; lit: string };
}

const onString = (t: (s: string) => boolean): ValueTest => ({ any: onStrings(t), str: t });

function valueTest(v: YScalar, mods: Mods, key: string, rep: Reporter): ValueTest | undefined {
  const value = v.value;
  if (mods.cmp) {
    if (typeof value !== 'number') {
      rep.error(v.pos, `'${key}': '${mods.cmp}' needs a number, got ${JSON.stringify(value)}`);
      return undefined;
    }
    let any: (x: unknown) => boolean;
    switch (mods.cmp) {
      case 'gt':
        any = (x) => toNumber(x) > value;
        break;
      case 'gte':
        any = (x) => toNumber(x) >= value;
        break;
      case 'lt':
        any = (x) => toNumber(x) < value;
        break;
      case 'lte':
        any = (x) => toNumber(x) <= value;
        break;
    }
    return { any, str: any };
  }
  if (mods.re) {
    if (typeof value !== 'string') {
      rep.error(v.pos, `'${key}': 're' needs a string pattern`);
      return undefined;
    }
    let re: RegExp;
    try {
      re = compileRuleRegex(value, mods.reFlags);
    } catch (err) {
      rep.error(v.pos, `'${key}': ${(err as Error).message}`);
      return undefined;
    }
    // Literals every match contains, looked for first: most values have not got them, and the
    // linear-time engine the pattern runs on is slower than a substring search.
    const needs = mods.reFlags.i ? [] : requiredLiterals(value);
    const run = memoized((s) => testCapped(re, s));
    if (needs.length === 0) return onString(run);
    return onString((s) => {
      for (let k = 0; k < needs.length; k++) if (!s.includes(needs[k] as string)) return false;
      return run(s);
    });
  }
  if (value === null) {
    if (mods.mode !== 'exact' || mods.b64 || mods.cased) {
      rep.error(v.pos, `'${key}': null cannot be used with modifiers ${mods.list.join('|')}`);
      return undefined;
    }
    return { any: (x) => x === undefined || x === null, str: () => false };
  }
  if (mods.b64) {
    if (typeof value !== 'string') {
      rep.error(v.pos, `'${key}': '${mods.b64}' needs a string`);
      return undefined;
    }
    const parts = parseSigmaString(value);
    if (hasWildcard(parts)) {
      rep.error(v.pos, `'${key}': wildcards cannot be base64-encoded; escape them (\\*, \\?) or drop them`);
      return undefined;
    }
    const plain = literalOf(parts);
    const encoded = mods.b64 === 'base64' ? [base64Utf8(plain)] : base64Offsets(plain);
    const tests = encoded.map((e) => compileStringTest([e], mods.mode, true));
    return onString(anyOf(tests as ((v: unknown) => boolean)[]) as (s: string) => boolean);
  }
  if (mods.mode === 'exact' && !mods.cased) {
    if (typeof value === 'number') {
      return {
        any: (x) => x === value || (typeof x === 'string' && toNumber(x) === value),
        str: (x) => toNumber(x) === value,
      };
    }
    if (typeof value === 'boolean') {
      const word = value ? 'true' : 'false';
      const t = compileStringTest([word], 'exact', false);
      return { any: (x) => x === value || (typeof x === 'string' && t(x)), str: t };
    }
  }
  const parts = parseSigmaString(textOf(v));
  const test = onString(compileStringTest(parts, mods.mode, mods.cased));
  if (!mods.cased && !hasWildcard(parts)) {
    const lit = literalOf(parts);
    if (lit !== '' && isAscii(lit)) {
      if (mods.mode === 'contains') test.containsLiteral = lit;
      else if (mods.mode === 'exact') test.exactLiteral = lit;
      test.literal = { mode: mods.mode, lit };
    }
  }
  return test;
}

/**
 * Literal runs (2 characters or more) that every match of a regular expression must contain: the
 * characters outside groups, classes and quantified atoms, in a pattern with no top-level `|`.
 * Conservative: whatever it is unsure of ends a run. Empty when there is none.
 */
export function requiredLiterals(pattern: string): string[] {
  const runs: string[] = [];
  let run = '';
  const cut = () => {
    if (run.length >= 2) runs.push(run);
    run = '';
  };
  const QUANT = new Set(['?', '*', '+', '{']);
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    let lit: string | undefined;
    if (c === '\\') {
      const d = pattern[i + 1];
      if (d !== undefined && /[\\^$.|?*+()[\]{}/-]/.test(d)) {
        lit = d;
        i++;
      } else {
        // A class or code escape (\d, \b, \x41, \u0041, \1…): not a literal, nor is what may be
        // part of it (conservatively, every letter and digit that follows).
        cut();
        i++;
        while (i + 1 < pattern.length && /[A-Za-z0-9<>]/.test(pattern[i + 1] as string)) i++;
        continue;
      }
    } else if (c === '|') {
      return []; // an alternative at the top level: nothing is required of every match
    } else if (c === '(' || c === '[') {
      // Skip the group or class whole (a group may hold an alternative; it is not looked into).
      cut();
      let depth = 0;
      for (; i < pattern.length; i++) {
        const x = pattern[i];
        if (x === '\\') i++;
        else if (c === '[' ? x === ']' : x === ')') {
          if (c === '[' || --depth === 0) break;
        } else if (c === '(' && x === '(') depth++;
      }
      continue;
    } else if (c === '{') {
      // A counted repetition {m,n} (or a literal brace): skipped whole.
      cut();
      const close = pattern.indexOf('}', i);
      if (close > i) i = close;
      continue;
    } else if ('.^$)]}'.includes(c) || QUANT.has(c)) {
      cut();
      continue;
    } else {
      lit = c;
    }
    // A quantified atom may be absent or repeated: it ends the run, without being part of it.
    if (QUANT.has(pattern[i + 1] ?? '')) {
      cut();
      continue;
    }
    run += lit;
  }
  cut();
  return runs;
}

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The values of one field ORed, as one test on a string: several case-insensitive substrings become
 * one regular-expression search, several exact values a length-indexed comparison; else each in turn.
 */
function combineStrings(tests: readonly ValueTest[]): (s: string) => boolean {
  if (tests.length === 1) return (tests[0] as ValueTest).str;
  if (tests.every((t) => t.containsLiteral !== undefined)) {
    const re = sharedRegExp(tests.map((t) => escapeRe(t.containsLiteral as string)).join('|'), 'i');
    return memoized((s) => re.test(s.length > MAX_REGEX_INPUT ? s.slice(0, MAX_REGEX_INPUT) : s));
  }
  if (tests.every((t) => t.exactLiteral !== undefined)) {
    // Exact spellings first (what records carry), then a case-folded comparison among equal lengths.
    const exact = new Set(tests.map((t) => t.exactLiteral as string));
    const byLength = new Map<number, ((s: string) => boolean)[]>();
    for (const t of tests) {
      const n = (t.exactLiteral as string).length;
      const list = byLength.get(n) ?? [];
      list.push(t.str);
      byLength.set(n, list);
    }
    return (s) => {
      if (exact.has(s)) return true;
      const same = byLength.get(s.length);
      if (same === undefined) return false;
      for (let k = 0; k < same.length; k++) if ((same[k] as (s: string) => boolean)(s)) return true;
      return false;
    };
  }
  const strs = tests.map((t) => t.str);
  return (s) => {
    for (let k = 0; k < strs.length; k++) if ((strs[k] as (s: string) => boolean)(s)) return true;
    return false;
  };
}

const hasOwnProp = Object.hasOwn;

/** What {@link fused} does with the string it finds: `str`, or one of the plain literal comparisons. */
const LEAF_STR = 0;
const LEAF_EXACT = 1;
const LEAF_CONTAINS = 2;
const LEAF_STARTS = 3;
const LEAF_ENDS = 4;

/** The string test of {@link fused}: what `str` returns for `v` (compileStringTest's comparisons). */
function leafTest(leaf: number, v: string, lit: string, lower: string, str: (s: string) => boolean): boolean {
  switch (leaf) {
    case LEAF_EXACT:
      return v === lit || eqFold(v, lower);
    case LEAF_CONTAINS:
      return v.length < SHORT_SCAN ? containsFold(v, lower) : str(v);
    case LEAF_STARTS:
      return startsFold(v, lower);
    case LEAF_ENDS:
      return endsFold(v, lower);
    default:
      return str(v);
  }
}

/**
 * A field test on a path of one or two segments, as data: {@link fused}'s direct route for it, run by
 * one method every such test shares. A rule whose candidate test is one field test (most: the index has
 * already settled its event name and source) is then judged from a single object (ruleset.ts), instead
 * of a chain of closures, each in its own corner of memory: with a thousand rules, each record's few
 * candidates are the ones no other record has kept in cache.
 */
export class FieldCheck {
  readonly k0: string;
  /** The second segment; undefined for a one-segment path. */
  readonly k1: string | undefined;
  /** `k0.k1`, a literal dotted key that would stand for a two-segment path. */
  readonly d0: string | undefined;
  /** The leaf test (LEAF_*), and FLAG_MISSING, FLAG_DEEP. */
  readonly flags: number;
  /**
   * When `str` is a memoized test: its memo, asked directly; for a substring literal, the memo `str`
   * asks for long strings.
   */
  readonly memo: StringMemo | undefined;

  constructor(
    /** What the direct route does not read: kept apart, so a check's own object stays small. */
    readonly shape: FieldShape,
    leaf: number,
    readonly lit: string,
    readonly lower: string,
    /** What a missing field gives. */
    missing: boolean,
    readonly str: (s: string) => boolean,
  ) {
    const segs = shape.segs;
    this.k0 = segs[0] as string;
    this.k1 = segs.length === 2 ? segs[1] : undefined;
    this.d0 = segs.length === 2 ? shape.dotted[0]?.[0] : undefined;
    this.flags = leaf | (missing ? FLAG_MISSING : 0) | (segs.length > 2 ? FLAG_DEEP : 0);
    this.memo = leaf === LEAF_CONTAINS ? longMemoOf(str) : leaf === LEAF_STR ? memoOf(str) : undefined;
  }

  get leaf(): number {
    return this.flags & LEAF_MASK;
  }
  get missing(): boolean {
    return (this.flags & FLAG_MISSING) !== 0;
  }
  get path(): FieldPath {
    return this.shape.path;
  }
  get pred(): LeafPred {
    return this.shape.pred;
  }

  /** A new FieldCheck with the same data (for a candidate list's own copy, ruleset.ts). */
  copy(): FieldCheck {
    return new FieldCheck(this.shape, this.leaf, this.lit, this.lower, this.missing, this.str);
  }

  /**
   * `path.some(s, pred, r)`. Keys are read plainly first; only a value found is checked to be the
   * object's own (never an inherited one), and a string only once its test passes when a missing field
   * fails the test (the answer is the same: an inherited value is a missing field). An absent key, or an
   * own key holding undefined, is the field missing either way. A literal dotted key holding undefined
   * would add a missing branch to the general walk's answer: that changes nothing when a missing field
   * fails the test (`missing` false), else it is checked.
   */
  check(s: unknown, r: unknown): boolean {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) return this.general(s, r);
    const flags = this.flags;
    const missing = (flags & FLAG_MISSING) !== 0;
    let v: unknown;
    const k1 = this.k1;
    if ((flags & FLAG_DEEP) !== 0) {
      v = this.shape.walk(s, missing);
      if (v === WALK_GENERAL) return this.general(s, r);
      if (v === undefined) return missing;
    } else if (k1 === undefined) {
      const k = this.k0;
      v = (s as Record<string, unknown>)[k];
      if (v === undefined) return missing;
      // When a missing field fails the test, an inherited value fails it too: whether the string is the
      // record's own matters only when its test passes, which is rare (own-property checks cost).
      if (!missing && typeof v === 'string') return this.stringTest(v, flags) && hasOwnProp(s, k);
      if (!hasOwnProp(s, k)) return missing;
    } else {
      const d0 = this.d0 as string;
      if ((s as Record<string, unknown>)[d0] !== undefined || (missing && hasOwnProp(s, d0))) {
        return this.general(s, r);
      }
      const k0 = this.k0;
      const v0 = (s as Record<string, unknown>)[k0];
      if (v0 === undefined || (missing && !hasOwnProp(s, k0))) return missing;
      // Neither a non-object nor an array depends on whose it is: no value below it, or the general walk
      // (which reads own properties only).
      if (typeof v0 !== 'object' || v0 === null) return missing;
      if (Array.isArray(v0)) return this.general(s, r);
      v = (v0 as Record<string, unknown>)[k1];
      if (v === undefined) return missing;
      if (!missing && typeof v === 'string') {
        return this.stringTest(v, flags) && hasOwnProp(v0, k1) && hasOwnProp(s, k0);
      }
      if (!hasOwnProp(v0, k1) || (!missing && !hasOwnProp(s, k0))) return missing;
    }
    if (typeof v === 'string') return this.stringTest(v, flags);
    return Array.isArray(v) ? this.general(s, r) : this.shape.pred(v, r);
  }

  /** The leaf test of a string value. */
  private stringTest(v: string, flags: number): boolean {
    const leaf = flags & LEAF_MASK;
    const memo = this.memo;
    if (memo !== undefined && (leaf === LEAF_STR || v.length >= SHORT_SCAN)) return memo.get(v);
    return leafTest(leaf, v, this.lit, this.lower, this.str);
  }

  /** The general walk. */
  private general(s: unknown, r: unknown): boolean {
    return this.shape.path.some(s, this.shape.pred, r);
  }
}

const LEAF_MASK = 7;
const FLAG_MISSING = 8;
const FLAG_DEEP = 16;

/** A field check's path, its dotted keys and its test of any value: what its direct route reads rarely. */
export class FieldShape {
  constructor(
    readonly segs: readonly string[],
    /** By level, the literal dotted keys that could stand for part of the path. */
    readonly dotted: readonly (readonly string[])[],
    readonly pred: LeafPred,
    readonly path: FieldPath,
  ) {}

  /**
   * The value at a path of three or four segments under the object `s`, read as FieldCheck reads one
   * or two: undefined when the field is missing, WALK_GENERAL where only the general walk can tell
   * (an array on the way, a dotted key).
   */
  walk(s: object, missing: boolean): unknown {
    const segs = this.segs;
    const dotted = this.dotted;
    let cur: unknown = s;
    for (let i = 0; i < segs.length; i++) {
      if (typeof cur !== 'object' || cur === null) return undefined;
      if (Array.isArray(cur)) return WALK_GENERAL;
      const keys = dotted[i] as readonly string[];
      for (let j = 0; j < keys.length; j++) {
        const dk = keys[j] as string;
        if ((cur as Record<string, unknown>)[dk] !== undefined || (missing && hasOwnProp(cur, dk))) {
          return WALK_GENERAL;
        }
      }
      const k = segs[i] as string;
      const v = (cur as Record<string, unknown>)[k];
      if (v === undefined || !hasOwnProp(cur, k)) return undefined;
      cur = v;
    }
    return cur;
  }
}

/** What FieldCheck's walk returns where only the general walk can tell. */
const WALK_GENERAL: unique symbol = Symbol('general walk');

/** The FieldCheck behind a field test made by {@link fused}, when it has one. */
const fieldChecks = new WeakMap<FieldTest, FieldCheck>();

/**
 * The FieldCheck a predicate is, when it is exactly one field test called on the record (`test(r)`):
 * what a one-item selection compiles to.
 */
export function fieldCheckOf(test: ((record: never) => boolean) | undefined): FieldCheck | undefined {
  return test === undefined ? undefined : fieldChecks.get(test as unknown as FieldTest);
}

/**
 * `path.some(scope, pred, root)`, with a direct route for what records mostly hold: plain objects down
 * the path (no array on the way, no literal dotted key) and a string at the end, tested by `str` (which
 * must agree with `pred` on strings) — or, for a single plain literal (`literal`), by the same comparison
 * `str` makes, in place; any other value at the end but an array is `pred` of it, as the walk would
 * have it. A branch that ends early is `pred(undefined)`; arrays and dotted keys take the general walk,
 * so the result is always the same. Paths of up to four segments are a {@link FieldCheck}: data run by
 * shared code, which the rule index can judge a candidate from directly.
 */
function fused(
  path: FieldPath,
  pred: LeafPred,
  str: (s: string) => boolean,
  literal?: { mode: MatchMode; lit: string },
): FieldTest {
  const segs = path.name.split('.').map(internKey);
  const n = segs.length;
  if (n > 4) return (s, r) => path.some(s, pred, r);
  // Literal dotted keys that could stand for part of the path, by level (checked absent on the route).
  const dotted: string[][] = segs.map((_, i) => {
    const out: string[] = [];
    for (let j = i + 1; j < n; j++) out.push(internKey(segs.slice(i, j + 1).join('.')));
    return out;
  });
  // What a missing field gives (the value tests here do not read the record for it).
  const missing = pred(undefined, undefined);
  const leaf =
    literal === undefined
      ? LEAF_STR
      : literal.mode === 'exact'
        ? LEAF_EXACT
        : literal.mode === 'contains'
          ? LEAF_CONTAINS
          : literal.mode === 'startswith'
            ? LEAF_STARTS
            : LEAF_ENDS;
  const lit = literal?.lit ?? '';
  const lower = lit.toLowerCase();
  const check = new FieldCheck(new FieldShape(segs, dotted, pred, path), leaf, lit, lower, missing, str);
  const test: FieldTest = (s, r) => check.check(s, r);
  fieldChecks.set(test, check);
  return test;
}

/**
 * Compiled tests shared between rules: items are pure functions of their key and values, and a rule
 * set repeats many (`userIdentity.type: AWSService`, lists of error codes). Sharing them keeps fewer
 * closures and regular expressions in memory, so evaluating a thousand rules stays in cache.
 */
const sharedTests = new Map<string, FieldTest>();
const MAX_SHARED = 20_000;

function valueKey(node: YNode): string {
  if (node.kind === 'scalar') return JSON.stringify([node.value, node.source ?? null]);
  if (node.kind === 'seq') return `[${node.items.map(valueKey).join(',')}]`;
  return '{}';
}

/** Compiles one `field|mods: values` entry of a selection. `field` paths are relative to the scope. */
export function compileItem(
  key: string,
  keyPos: Pos,
  node: YNode,
  rep: Reporter,
  fieldOverride?: string,
): CompiledItem | undefined {
  const item = compileItemOnce(key, keyPos, node, rep, fieldOverride);
  if (!item || item.usesRoot) return item;
  const id = `${fieldOverride ?? ''}\u0000${key}\u0000${valueKey(node)}`;
  const shared = sharedTests.get(id);
  if (shared) item.test = shared;
  else if (sharedTests.size < MAX_SHARED) sharedTests.set(id, item.test);
  return item;
}

function compileItemOnce(
  key: string,
  keyPos: Pos,
  node: YNode,
  rep: Reporter,
  fieldOverride?: string,
): CompiledItem | undefined {
  const parsed = parseKey(key, keyPos, rep);
  if (!parsed) return undefined;
  const { mods } = parsed;
  const field = fieldOverride ?? parsed.field;
  const path = new FieldPath(field);
  const values = scalarsOf(node, key, rep);
  if (!values) return undefined;
  if (mods.all && values.length < 2) rep.warn(keyPos, `'${key}': 'all' with a single value has no effect`);

  if (mods.exists) {
    const v = values[0] as YScalar;
    if (values.length !== 1 || typeof v.value !== 'boolean') {
      rep.error(v.pos, `'${key}': 'exists' takes true or false`);
      return undefined;
    }
    const present: LeafPred = (x) => x !== undefined;
    // A string is present: the direct route answers for it as the general walk does.
    const some = fused(path, present, () => true);
    const want = v.value;
    return { field, test: want ? some : (s, r) => !some(s, r) };
  }

  if (mods.cidr) {
    const nets: Cidr[] = [];
    for (const v of values) {
      if (typeof v.value !== 'string') {
        rep.error(v.pos, `'${key}': 'cidr' needs a network such as 10.0.0.0/8`);
        return undefined;
      }
      try {
        nets.push(parseCidr(v.value));
      } catch (err) {
        rep.error(v.pos, `'${key}': ${(err as Error).message}`);
        return undefined;
      }
    }
    const m = cidrMatcher(nets);
    return { field, test: fused(path, m, m) };
  }

  if (mods.fieldref) return compileFieldref(field, path, key, values, mods, rep);

  const valueTests: ValueTest[] = [];
  for (const v of values) {
    const t = valueTest(v, mods, key, rep);
    if (!t) return undefined;
    valueTests.push(t);
  }
  const tests = valueTests.map((t) => t.any);

  if (mods.neq) {
    const eq = anyOf(tests);
    const pred: LeafPred = (x) => x === undefined || x === null || eq(x);
    // Present, non-null, and no value at the path equals any listed value.
    const present: LeafPred = (x) => x !== undefined && x !== null;
    const someValue = fused(path, present, () => true);
    const strs = valueTests.map((t) => t.str);
    const someEqual = fused(path, pred, (x) => {
      for (let k = 0; k < strs.length; k++) if ((strs[k] as (s: string) => boolean)(x)) return true;
      return false;
    });
    return { field, test: (s, r) => someValue(s, r) && !someEqual(s, r) };
  }

  // What the event-source/name index may use: plain ASCII values (matched ASCII-case-insensitively).
  const plain =
    mods.list.length === 0 &&
    values.every(
      (v) => typeof v.value === 'string' && isAscii(v.value) && !hasWildcard(parseSigmaString(v.value)),
    );
  const plainValues = plain ? values.map((v) => literalOf(parseSigmaString(v.value as string))) : undefined;

  let test: FieldTest;
  if (mods.all && tests.length > 1) {
    const preds = tests as LeafPred[];
    test = (s, r) => {
      for (let k = 0; k < preds.length; k++) if (!path.some(s, preds[k] as LeafPred, r)) return false;
      return true;
    };
  } else {
    const only = valueTests.length === 1 ? (valueTests[0] as ValueTest).literal : undefined;
    test = fused(path, anyOf(tests) as LeafPred, combineStrings(valueTests), only);
  }
  return plainValues ? { field, test, plainValues } : { field, test };
}

function compileFieldref(
  field: string,
  path: FieldPath,
  key: string,
  values: YScalar[],
  mods: Mods,
  rep: Reporter,
): CompiledItem | undefined {
  const refs: FieldPath[] = [];
  for (const v of values) {
    const bad = typeof v.value !== 'string' ? 'needs a field name' : fieldNameProblem(v.value);
    if (bad || typeof v.value !== 'string') {
      rep.error(v.pos, `'${key}': 'fieldref' ${bad ?? 'needs a field name'}`);
      return undefined;
    }
    if (hasWildcard(parseSigmaString(v.value))) {
      rep.error(v.pos, `'${key}': a field reference cannot contain wildcards`);
      return undefined;
    }
    refs.push(new FieldPath(v.value));
  }
  const fold = (s: string) => (mods.cased ? s : s.toLowerCase());
  const str = (x: unknown): string | undefined =>
    typeof x === 'string' ? x : typeof x === 'number' || typeof x === 'boolean' ? String(x) : undefined;
  const rel = (a: string, b: string): boolean => {
    switch (mods.mode) {
      case 'exact':
        return a === b;
      case 'contains':
        return a.includes(b);
      case 'startswith':
        return a.startsWith(b);
      case 'endswith':
        return a.endsWith(b);
    }
  };
  // The referenced field is read from the whole record. This path is rare; it may allocate.
  const against = (ref: FieldPath): LeafPred => {
    const eq: LeafPred = (x, root) => {
      const a = str(x);
      if (a === undefined) return false;
      const fa = fold(a);
      for (const y of ref.values(root)) {
        const b = str(y);
        if (b !== undefined && rel(fa, fold(b))) return true;
      }
      return false;
    };
    return eq;
  };
  const preds = refs.map(against);
  let test: FieldTest;
  if (mods.neq) {
    const present: LeafPred = (x) => x !== undefined && x !== null;
    test = (s, r) => path.some(s, present, r) && !preds.some((p) => path.some(s, p, r));
  } else if (mods.all) {
    test = (s, r) => preds.every((p) => path.some(s, p, r));
  } else {
    test = (s, r) => preds.some((p) => path.some(s, p, r));
  }
  return { field, test, usesRoot: true };
}

/** Keywords: a list of values searched (contains-style, case-insensitive) in every string of the record. */
export function compileKeywords(node: YNode, name: string, rep: Reporter): FieldTest | undefined {
  const items = node.kind === 'seq' ? node.items : [node];
  const tests: ((s: string) => boolean)[] = [];
  for (const item of items) {
    if (item.kind !== 'scalar' || item.value === null) {
      rep.error(item.pos, `search identifier '${name}': keyword values must be strings or numbers`);
      return undefined;
    }
    tests.push(compileStringTest(parseSigmaString(textOf(item)), 'contains', false));
  }
  if (tests.length === 0) {
    rep.error(node.pos, `search identifier '${name}' is empty`);
    return undefined;
  }
  const m = onStrings((s) => {
    for (let k = 0; k < tests.length; k++) if ((tests[k] as (s: string) => boolean)(s)) return true;
    return false;
  });
  return (_scope, root) => m(root);
}
