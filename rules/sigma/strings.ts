/**
 * Sigma string values: `*` and `?` wildcards with `\*`, `\?`, `\\` escapes, matched case-insensitively
 * unless cased. Each pattern is compiled once into the cheapest check that does the job (equality,
 * prefix, suffix, substring, or an anchored RegExp); ASCII needles are folded once so the per-record
 * check allocates nothing.
 */
import { MAX_REGEX_INPUT } from './regex.js';

export type MatchMode = 'exact' | 'contains' | 'startswith' | 'endswith';

/** A Sigma string split into literal text and wildcards. */
export type Part = string | { wildcard: '*' | '?' };
const STAR: Part = { wildcard: '*' };

/** Splits a Sigma string into literal runs and wildcards, honouring `\*`, `\?` and `\\`. */
export function parseSigmaString(s: string): Part[] {
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '\\') {
      const d = s[i + 1];
      if (d === '*' || d === '?' || d === '\\') {
        lit += d;
        i++;
      } else lit += '\\';
    } else if (c === '*' || c === '?') {
      if (lit) parts.push(lit);
      lit = '';
      // Consecutive stars are one star.
      if (c === '?' || parts[parts.length - 1] !== STAR) parts.push(c === '*' ? STAR : { wildcard: '?' });
    } else lit += c;
  }
  if (lit) parts.push(lit);
  return parts;
}

export const hasWildcard = (parts: Part[]): boolean => parts.some((p) => typeof p !== 'string');

/** The literal text of a wildcard-free Sigma string. */
export const literalOf = (parts: Part[]): string =>
  parts.map((p) => (typeof p === 'string' ? p : '')).join('');

const isAscii = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
};
const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export function eqFold(s: string, lower: string): boolean {
  const n = lower.length;
  if (s.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

export function startsFold(s: string, lower: string): boolean {
  const n = lower.length;
  if (s.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

export function endsFold(s: string, lower: string): boolean {
  const n = lower.length;
  const off = s.length - n;
  if (off < 0) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(off + i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** Values shorter than this are searched for a case-insensitive substring by {@link containsFold}. */
export const SHORT_SCAN = 64;

/**
 * Whether `s` contains `lower` (lower-case ASCII, non-empty) with A–Z folded: what the RegExp
 * `/lower/i` finds for an ASCII literal (non-Unicode `/i` folds no other character onto ASCII).
 */
export function containsFold(s: string, lower: string): boolean {
  const n = lower.length;
  const last = s.length - n;
  const first = lower.charCodeAt(0);
  outer: for (let i = 0; i <= last; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== first) continue;
    for (let j = 1; j < n; j++) {
      let d = s.charCodeAt(i + j);
      if (d >= 65 && d <= 90) d |= 32;
      if (d !== lower.charCodeAt(j)) continue outer;
    }
    return true;
  }
  return false;
}

/** RegExps without `g`/`y` keep no state between tests, so rules with the same pattern share one. */
const regExps = new Map<string, RegExp>();
export function sharedRegExp(source: string, flags: string): RegExp {
  const key = `${flags}/${source}`;
  let re = regExps.get(key);
  if (!re) {
    re = new RegExp(source, flags);
    if (regExps.size < 20_000) regExps.set(key, re);
  }
  return re;
}

const capped = (s: string): string => (s.length > MAX_REGEX_INPUT ? s.slice(0, MAX_REGEX_INPUT) : s);

/** Strings shorter than this are tested directly: remembering them would cost about what testing does. */
export const MEMO_MIN_LENGTH = 32;
/** Sets in a memo (a power of two), of two slots each; a slot remembers one string and its result. */
const MEMO_SETS = 128;
/** Lookups after which a memo that rarely hits stops remembering (the values do not repeat). */
const MEMO_TRIAL = 2048;
/**
 * Memos that may remember strings at once, in the whole process: a bound on the memory they hold
 * (each up to 2 × MEMO_SETS strings), whatever the number of rules. Beyond it, tests run directly.
 */
const MAX_MEMO_TABLES = 256;
let memoTables = 0;
/** A string's set is worked out from 2^MEMO_SAMPLE_BITS (16) of its characters, evenly spaced from its end. */
const MEMO_SAMPLE_BITS = 4;

/**
 * The set for `s` (length ≥ MEMO_MIN_LENGTH): a hash of its length and of sixteen of its
 * characters, evenly spaced, so strings of one kind that differ in one place (a version, a UUID in a
 * user agent) still tend to differ in the characters read.
 */
function memoSet(s: string): number {
  const n = s.length;
  const step = n >> MEMO_SAMPLE_BITS;
  let h = Math.imul(n, 0x9e3779b1);
  for (let i = n - 1; i >= 0; i -= step) h = Math.imul(h ^ s.charCodeAt(i), 0x85ebca6b) ^ (h >>> 13);
  return (h ^ (h >>> 15)) & (MEMO_SETS - 1);
}

/** The memo behind each function {@link memoized} returned. */
const memos = new WeakMap<(s: string) => boolean, StringMemo>();

/** For a substring test (compileStringTest): the memo it asks for strings of SHORT_SCAN or more. */
const longMemos = new WeakMap<(s: string) => boolean, StringMemo>();

/** The memo a substring test asks for long strings (see SHORT_SCAN), if it is one. */
export function longMemoOf(f: (s: string) => boolean): StringMemo | undefined {
  return longMemos.get(f);
}

/**
 * `test`, remembering its result for the long strings it last saw. Each string goes to one set of
 * two slots (from its length and a few of its characters); a slot holds the string itself, so a hit is
 * a string comparison — exact, never a guess. What this is for: fields whose long values repeat from
 * call to call (a user agent is ~150 characters, and a few hundred of them make most of the traffic),
 * tested by case-insensitive alternations, wildcard patterns or regular expressions that scan the
 * whole value. A memo whose first MEMO_TRIAL lookups hit less than a quarter of the time stops
 * remembering (values that do not repeat: request parameters, ids), and at most MAX_MEMO_TABLES
 * remember at once. `test` must be a pure function of the string.
 */
export function memoized(test: (s: string) => boolean): (s: string) => boolean {
  const memo = new StringMemo(test);
  const remembered = (s: string): boolean => memo.get(s);
  memos.set(remembered, memo);
  return remembered;
}

/** The memo behind a function {@link memoized} returned (its `get` is that function), if it is one. */
export function memoOf(f: (s: string) => boolean): StringMemo | undefined {
  return memos.get(f);
}

/** The state of a {@link memoized} test; `get(s)` is the test's result for `s`. */
export class StringMemo {
  // Slot 2k and 2k + 1 make set k; the newer string is in 2k ('' for none: no string tested here is).
  private keys: string[] | undefined = undefined;
  private results: Uint8Array | undefined = undefined;
  private lookups = 0;
  private found = 0;
  private on = true;

  constructor(private readonly test: (s: string) => boolean) {}

  get(s: string): boolean {
    if (s.length < MEMO_MIN_LENGTH || !this.on) return this.test(s);
    let keys = this.keys;
    let results = this.results;
    if (keys === undefined || results === undefined) {
      if (memoTables >= MAX_MEMO_TABLES) {
        this.on = false;
        return this.test(s);
      }
      memoTables++;
      keys = this.keys = new Array<string>(2 * MEMO_SETS).fill('');
      results = this.results = new Uint8Array(2 * MEMO_SETS);
    }
    const slot = memoSet(s) << 1;
    const at = keys[slot] === s ? slot : keys[slot + 1] === s ? slot + 1 : -1;
    if (at >= 0) {
      if (this.lookups < MEMO_TRIAL) {
        this.lookups++;
        this.found++;
      }
      return results[at] === 1;
    }
    const result = this.test(s);
    if (this.lookups < MEMO_TRIAL && ++this.lookups === MEMO_TRIAL && this.found < MEMO_TRIAL / 4) {
      // The values do not repeat: stop remembering them (and let the strings go).
      this.on = false;
      this.keys = undefined;
      this.results = undefined;
      memoTables--;
      return result;
    }
    keys[slot + 1] = keys[slot] as string;
    results[slot + 1] = results[slot] as number;
    keys[slot] = s;
    results[slot] = result ? 1 : 0;
    return result;
  }
}

/** Compiles a parsed Sigma string, with its match mode, into a test on one string. */
export function compileStringTest(parts: Part[], mode: MatchMode, cased: boolean): (s: string) => boolean {
  const p = parts.slice();
  if ((mode === 'contains' || mode === 'endswith') && p[0] !== STAR && !isStar(p[0])) p.unshift(STAR);
  if ((mode === 'contains' || mode === 'startswith') && !isStar(p[p.length - 1])) p.push(STAR);
  let anchoredStart = true;
  let anchoredEnd = true;
  while (p.length > 0 && isStar(p[0])) {
    p.shift();
    anchoredStart = false;
  }
  while (p.length > 0 && isStar(p[p.length - 1])) {
    p.pop();
    anchoredEnd = false;
  }
  if (p.length === 0) {
    // '' (exact) or only '*'
    return anchoredStart && anchoredEnd ? (s) => s.length === 0 : () => true;
  }
  if (p.length === 1 && typeof p[0] === 'string') {
    const lit = p[0];
    if (cased) {
      if (anchoredStart && anchoredEnd) return (s) => s === lit;
      if (anchoredStart) return (s) => s.startsWith(lit);
      if (anchoredEnd) return (s) => s.endsWith(lit);
      return (s) => s.includes(lit);
    }
    if (isAscii(lit)) {
      const lower = lit.toLowerCase();
      // The exact spelling first: what records carry, compared natively.
      if (anchoredStart && anchoredEnd) return (s) => s === lit || eqFold(s, lower);
      if (anchoredStart) return (s) => startsFold(s, lower);
      if (anchoredEnd) return (s) => endsFold(s, lower);
      // Substring: in a short value, a scan by the code every such test shares (a thousand rules'
      // literals are a thousand regular expressions, each with its own machine code, which a record
      // then runs a few of, out of cache); in a long one, a case-insensitive literal RegExp (irregexp
      // searches it well), remembered for values that repeat. No lowercase copy either way.
      const re = sharedRegExp(escapeRe(lit), 'i');
      const long = memoized((s) => re.test(capped(s)));
      const test = (s: string): boolean => (s.length < SHORT_SCAN ? containsFold(s, lower) : long(s));
      longMemos.set(test, memoOf(long) as StringMemo);
      return test;
    }
  }
  const globSrc = p.map((part) => (typeof part === 'string' ? part : part.wildcard)).join('');
  if (cased || isAscii(globSrc)) {
    // Linear-memory, O(n·m) glob matcher: no backtracking blow-up whatever the pattern.
    const codes: number[] = [];
    if (!anchoredStart) codes.push(ANY_RUN);
    for (const part of p) {
      if (typeof part !== 'string') codes.push(part.wildcard === '*' ? ANY_RUN : ANY_ONE);
      else for (const ch of cased ? part : part.toLowerCase()) codes.push(...codeUnits(ch));
    }
    if (!anchoredEnd) codes.push(ANY_RUN);
    const pat = Int32Array.from(codes);
    return memoized((s) => glob(capped(s), pat, !cased));
  }
  // Non-ASCII and case-insensitive: the same glob over case-folded code points. (A RegExp `^.*é.*é…$`
  // here backtracked polynomially: seven stars took minutes on 2,000 characters.)
  const codes: number[] = [];
  if (!anchoredStart) codes.push(ANY_RUN);
  for (const part of p) {
    if (typeof part !== 'string') codes.push(part.wildcard === '*' ? ANY_RUN : ANY_ONE);
    else for (const ch of part) codes.push(foldCodePoint(ch.codePointAt(0) as number));
  }
  if (!anchoredEnd) codes.push(ANY_RUN);
  const pat = Int32Array.from(codes);
  return memoized((s) => {
    const subject: number[] = [];
    for (const ch of capped(s)) subject.push(foldCodePoint(ch.codePointAt(0) as number));
    return globCodes(subject, pat);
  });
}

const folded = new Map<number, number>();

/** Unicode simple case folding, near enough: lower case of the upper case, where both are one code point. */
function foldCodePoint(cp: number): number {
  if (cp < 0x80) return cp >= 65 && cp <= 90 ? cp | 32 : cp;
  const hit = folded.get(cp);
  if (hit !== undefined) return hit;
  const ch = String.fromCodePoint(cp);
  const up = ch.toUpperCase();
  const base = [...up].length === 1 ? up : ch;
  const low = base.toLowerCase();
  const f = [...low].length === 1 ? (low.codePointAt(0) as number) : cp;
  if (folded.size < 65_536) folded.set(cp, f);
  return f;
}

/** `glob` over code points (a wildcard `?` is one code point). */
function globCodes(s: readonly number[], pat: Int32Array): boolean {
  const n = s.length;
  const m = pat.length;
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < n) {
    if (pi < m) {
      const pc = pat[pi] as number;
      if (pc === ANY_RUN) {
        starP = pi++;
        starS = si;
        continue;
      }
      if (pc === ANY_ONE || pc === s[si]) {
        si++;
        pi++;
        continue;
      }
    }
    if (starP < 0) return false;
    pi = starP + 1;
    si = ++starS;
  }
  while (pi < m && pat[pi] === ANY_RUN) pi++;
  return pi === m;
}

const ANY_RUN = -1;
const ANY_ONE = -2;
const codeUnits = (ch: string): number[] => Array.from({ length: ch.length }, (_, i) => ch.charCodeAt(i));

/** Classic wildcard match with a single backtrack point: O(len(s) × len(pat)), never exponential. */
function glob(s: string, pat: Int32Array, fold: boolean): boolean {
  const n = s.length;
  const m = pat.length;
  let si = 0;
  let pi = 0;
  let starP = -1;
  let starS = 0;
  while (si < n) {
    if (pi < m) {
      const pc = pat[pi] as number;
      if (pc === ANY_RUN) {
        starP = pi++;
        starS = si;
        continue;
      }
      let c = s.charCodeAt(si);
      if (fold && c >= 65 && c <= 90) c |= 32;
      if (pc === ANY_ONE || pc === c) {
        si++;
        pi++;
        continue;
      }
    }
    if (starP < 0) return false;
    pi = starP + 1;
    si = ++starS;
  }
  while (pi < m && pat[pi] === ANY_RUN) pi++;
  return pi === m;
}

function isStar(p: Part | undefined): boolean {
  return p !== undefined && typeof p !== 'string' && p.wildcard === '*';
}
