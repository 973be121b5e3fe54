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

function eqFold(s: string, lower: string): boolean {
  const n = lower.length;
  if (s.length !== n) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function startsFold(s: string, lower: string): boolean {
  const n = lower.length;
  if (s.length < n) return false;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function endsFold(s: string, lower: string): boolean {
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
      // Substring: a case-insensitive literal RegExp (irregexp searches it well); no lowercase copy.
      const re = sharedRegExp(escapeRe(lit), 'i');
      return (s) => re.test(capped(s));
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
    return (s) => glob(capped(s), pat, !cased);
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
  return (s) => {
    const subject: number[] = [];
    for (const ch of capped(s)) subject.push(foldCodePoint(ch.codePointAt(0) as number));
    return globCodes(subject, pat);
  };
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
