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
import { FieldPath, fieldNameProblem, type LeafPred, someScalar } from './fieldpath.js';
import { compileRuleRegex, MAX_REGEX_INPUT, type RegexFlags, testCapped } from './regex.js';
import type { Reporter } from './report.js';
import {
  compileStringTest,
  hasWildcard,
  literalOf,
  type MatchMode,
  parseSigmaString,
  sharedRegExp,
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
    if (needs.length === 0) return onString((s) => testCapped(re, s));
    return onString((s) => {
      for (let k = 0; k < needs.length; k++) if (!s.includes(needs[k] as string)) return false;
      return testCapped(re, s);
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
    return (s) => re.test(s.length > MAX_REGEX_INPUT ? s.slice(0, MAX_REGEX_INPUT) : s);
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

/**
 * `path.some(scope, pred, root)`, with a direct route for what records mostly hold: plain objects down
 * the path (no array on the way, no literal dotted key) and a string at the end, tested by `str`. A
 * branch that ends early is `pred(undefined)`; anything else (arrays, numbers, objects, dotted keys)
 * takes the general walk, so the result is always the same.
 */
function fused(path: FieldPath, pred: LeafPred, str: (s: string) => boolean): FieldTest {
  const segs = path.name.split('.');
  const n = segs.length;
  if (n > 4) return (s, r) => path.some(s, pred, r);
  // Literal dotted keys that could stand for part of the path, by level (checked absent on the route).
  const dotted: string[][] = segs.map((_, i) => {
    const out: string[] = [];
    for (let j = i + 1; j < n; j++) out.push(segs.slice(i, j + 1).join('.'));
    return out;
  });
  const general: FieldTest = (s, r) => path.some(s, pred, r);
  // What a missing field gives (the value tests here do not read the record for it).
  const missing = pred(undefined, undefined);
  if (n === 1) {
    const k = segs[0] as string;
    return (s, r) => {
      if (typeof s !== 'object' || s === null || Array.isArray(s)) return general(s, r);
      if (!hasOwnProp(s, k)) return missing;
      const v = (s as Record<string, unknown>)[k];
      return typeof v === 'string' ? str(v) : general(s, r);
    };
  }
  return (s, r) => {
    let cur: unknown = s;
    for (let i = 0; i < n; i++) {
      if (typeof cur !== 'object' || cur === null) return i === 0 ? general(s, r) : missing;
      if (Array.isArray(cur)) return general(s, r);
      const keys = dotted[i] as string[];
      for (let j = 0; j < keys.length; j++) if (hasOwnProp(cur, keys[j] as string)) return general(s, r);
      const k = segs[i] as string;
      if (!hasOwnProp(cur, k)) return missing;
      cur = (cur as Record<string, unknown>)[k];
    }
    return typeof cur === 'string' ? str(cur) : general(s, r);
  };
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
    const want = v.value;
    return { field, test: want ? (s, r) => path.some(s, present, r) : (s, r) => !path.some(s, present, r) };
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
    return { field, test: (s, r) => path.some(s, present, r) && !path.some(s, pred, r) };
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
    test = fused(path, anyOf(tests) as LeafPred, combineStrings(valueTests));
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
