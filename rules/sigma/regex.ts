/**
 * Compiles `re` modifier patterns once, refusing the shapes that make a backtracking engine take
 * exponential time: a repeated group that itself contains a repetition (`(a+)+`, `(.*)*`,
 * `(\w+\s?)*`) and back-references. Input is capped at 64 KB.
 *
 * Neither is enough on its own: `(a|aa)+$` is exponential without a nested quantifier, and an ordinary
 * policy-document pattern such as `"Effect"\s*:\s*"Allow"[^{}]*"Action"\s*:\s*(\[[^\]]*)?"\*"` is cubic:
 * over three minutes on a crafted 64 KB value, which anyone able to make an AWS call (even a denied one)
 * can put in CloudTrail. So rule patterns run on V8's linear-time engine (the `l` flag, enabled once at
 * load with `--enable-experimental-regexp-engine`, which changes nothing for other regular expressions):
 * a match costs O(pattern × input) whatever both are. That engine has no case-insensitive mode and takes
 * counted repetitions only up to 16, so a pattern is rewritten for it first — `|i` literals and classes
 * get explicit case variants (`a` → `[Aa]`, exactly what `/i` matches) and `x{8,17}` becomes
 * `(?:x){8}(?:x){0,9}`. Lookarounds, which it cannot run, are refused with a clear message. Where the
 * engine is missing (not V8), the static checks and the input cap remain.
 */
import { setFlagsFromString } from 'node:v8';

/** V8's flag for its linear-time engine (not in the language, so never written as a literal). */
const LINEAR = 'l';

/** Whether V8's linear-time engine is available; the flag is set once at load. */
export const LINEAR_TIME_REGEX: boolean = (() => {
  try {
    setFlagsFromString('--enable-experimental-regexp-engine');
    return new RegExp('a', LINEAR).test('a');
  } catch {
    return false;
  }
})();

/** The largest count the linear engine takes in one `{m,n}`; larger ones are split. */
const LINEAR_MAX_COUNT = 16;
/** Counts above this are refused: the rewritten pattern would be needlessly large. */
export const MAX_REGEX_COUNT = 1000;

/** Longest string a regular expression (or wildcard pattern) is run against; longer values are cut. */
export const MAX_REGEX_INPUT = 64 * 1024;

export interface RegexFlags {
  i?: boolean;
  m?: boolean;
  s?: boolean;
}

/** Returns why `pattern` is refused, or undefined when it is acceptable. */
export function regexHazard(pattern: string): string | undefined {
  // Stack of open groups: does the group (so far) contain a repetition?
  const stack: boolean[] = [];
  let lastGroupHadRepeat = false; // for the group that just closed
  let lastAtom: 'none' | 'char' | 'group' = 'none';
  let inClass = false;
  const markRepeat = () => {
    for (let k = 0; k < stack.length; k++) stack[k] = true;
  };
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (inClass) {
      if (c === '\\') i++;
      else if (c === ']') {
        inClass = false;
        lastAtom = 'char';
      }
      continue;
    }
    if (c === '\\') {
      const d = pattern[i + 1] ?? '';
      if (/[1-9]/.test(d) || (d === 'k' && pattern[i + 2] === '<')) {
        return 'back-references are not supported in rule regular expressions';
      }
      i++;
      lastAtom = 'char';
      continue;
    }
    if (c === '[') {
      inClass = true;
      continue;
    }
    if (c === '(') {
      stack.push(false);
      lastAtom = 'none';
      // skip group prefixes like ?: ?= ?! ?<= ?<! ?<name>
      if (pattern[i + 1] === '?') {
        const m = /^\?(?::|=|!|<=|<!|<[A-Za-z_][A-Za-z0-9_]*>)/.exec(pattern.slice(i + 1));
        if (m) i += m[0].length;
      }
      continue;
    }
    if (c === ')') {
      lastGroupHadRepeat = stack.pop() ?? false;
      lastAtom = 'group';
      continue;
    }
    const q = quantifierAt(pattern, i);
    if (q) {
      if (q.unbounded || q.max > 1) {
        if (lastAtom === 'group' && lastGroupHadRepeat) {
          return `nested quantifier near '${pattern.slice(Math.max(0, i - 12), i + q.length)}' can backtrack catastrophically; rewrite without a repeated group that contains a repetition`;
        }
        markRepeat();
      }
      i += q.length - 1;
      // a lazy/possessive suffix
      if (pattern[i + 1] === '?') i++;
      lastAtom = 'none';
      continue;
    }
    lastAtom = 'char';
  }
  return undefined;
}

function quantifierAt(p: string, i: number): { unbounded: boolean; max: number; length: number } | undefined {
  const c = p[i];
  if (c === '*' || c === '+') return { unbounded: true, max: Number.POSITIVE_INFINITY, length: 1 };
  if (c === '?') return { unbounded: false, max: 1, length: 1 };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i, i + 24));
    if (!m) return undefined;
    const min = Number(m[1]);
    const unbounded = m[2] !== undefined && m[3] === '';
    const max = m[2] === undefined ? min : unbounded ? Number.POSITIVE_INFINITY : Number(m[3]);
    return { unbounded, max, length: m[0].length };
  }
  return undefined;
}

/** Compiles a rule pattern. Throws an Error with a message fit for a rule issue. */
export function compileRuleRegex(pattern: string, flags: RegexFlags): RegExp {
  const hazard = regexHazard(pattern);
  if (hazard) throw new Error(hazard);
  const other = `${flags.m ? 'm' : ''}${flags.s ? 's' : ''}`;
  let re: RegExp;
  try {
    re = new RegExp(pattern, `${flags.i ? 'i' : ''}${other}`);
  } catch (err) {
    throw new Error(`invalid regular expression /${pattern}/: ${(err as Error).message}`);
  }
  if (!LINEAR_TIME_REGEX) return re;
  const source = linearSource(pattern, flags.i === true);
  try {
    return new RegExp(source, `${other}${LINEAR}`);
  } catch {
    throw new Error(
      `regular expression /${pattern}/ cannot run in linear time: lookarounds (?=…) (?!…) (?<=…) (?<!…) are not supported in rule regular expressions`,
    );
  }
}

/** For each UTF-16 unit with case, every unit `/i` (without `u`) treats as equal to it; built on first use. */
let caseClasses: Map<number, number[]> | undefined;

/** ECMAScript's Canonicalize for non-Unicode `/i`: upper case, unless that is not one unit or leaves ASCII. */
function canonicalize(c: number): number {
  const u = String.fromCharCode(c).toUpperCase();
  if (u.length !== 1) return c;
  const uc = u.charCodeAt(0);
  return c >= 128 && uc < 128 ? c : uc;
}

function caseVariants(c: number): number[] {
  if (!caseClasses) {
    caseClasses = new Map();
    for (let x = 0; x <= 0xffff; x++) {
      const ch = String.fromCharCode(x);
      if (ch.toUpperCase() === ch && ch.toLowerCase() === ch) continue; // no case
      const k = canonicalize(x);
      const list = caseClasses.get(k);
      if (list) list.push(x);
      else caseClasses.set(k, [x]);
    }
  }
  const list = caseClasses.get(canonicalize(c));
  return list && list.length > 1 ? list : [c];
}

const unit = (c: number) => `\\u${c.toString(16).padStart(4, '0')}`;

/**
 * `pattern` as the linear-time engine takes it, matching exactly what `new RegExp(pattern, i ? 'i' : '')`
 * matches: with `ignoreCase`, every cased literal becomes a class of its case variants and every class
 * gains its members' variants (escapes such as `\w`, `\d`, `\b` and group names are left alone); counts
 * above 16 are split into repetitions of the same atom. Throws for counts above MAX_REGEX_COUNT.
 */
export function linearSource(pattern: string, ignoreCase: boolean): string {
  let out = '';
  let i = 0;
  const n = pattern.length;
  /** Where the last atom starts in `out` (for splitting a count), and where open groups start. */
  let atomStart = -1;
  const groups: number[] = [];
  const variants = (code: number) => (ignoreCase ? caseVariants(code) : [code]);

  /** Reads one (possibly escaped) unit at i: its code when it is a literal, and its text. */
  const readAtom = (inClass: boolean): { code?: number; text: string } => {
    const c = pattern[i] as string;
    if (c !== '\\') {
      i++;
      return { code: c.charCodeAt(0), text: c };
    }
    const d = pattern[i + 1] ?? '';
    const hex = (len: number) => {
      const h = pattern.slice(i + 2, i + 2 + len);
      return h.length === len && /^[0-9A-Fa-f]+$/.test(h) ? Number.parseInt(h, 16) : undefined;
    };
    for (const [letter, len] of [
      ['x', 2],
      ['u', 4],
    ] as const) {
      const code = d === letter ? hex(len) : undefined;
      if (code !== undefined) {
        const text = pattern.slice(i, i + 2 + len);
        i += 2 + len;
        return { code, text };
      }
    }
    i += 2;
    // Letters and digits after a backslash are escapes with their own meaning (\w, \d, \n, \b, \cX…).
    if (/[A-Za-z0-9]/.test(d)) {
      if (d === 'c' && /[A-Za-z]/.test(pattern[i] ?? '')) {
        i++;
        return { text: `\\c${pattern[i - 1]}` };
      }
      return { text: `\\${d}`, code: inClass && d === 'b' ? 8 : undefined };
    }
    return { code: d.charCodeAt(0), text: `\\${d}` };
  };

  while (i < n) {
    const c = pattern[i] as string;
    if (c === '(') {
      groups.push(out.length);
      const m = /^\((?:\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>))?/.exec(pattern.slice(i)) as RegExpExecArray;
      out += m[0];
      i += m[0].length;
      atomStart = -1;
      continue;
    }
    if (c === ')') {
      atomStart = groups.pop() ?? -1;
      out += c;
      i++;
      continue;
    }
    if (c === '|' || c === '^' || c === '$') {
      atomStart = -1;
      out += c;
      i++;
      continue;
    }
    if (c === '{') {
      const q = /^\{(\d+)(,(\d*))?\}(\?)?/.exec(pattern.slice(i));
      if (q && atomStart >= 0) {
        const min = Number(q[1]);
        const max = q[2] === undefined ? min : q[3] === '' ? Number.POSITIVE_INFINITY : Number(q[3]);
        if (min > MAX_REGEX_COUNT || (Number.isFinite(max) && max > MAX_REGEX_COUNT)) {
          throw new Error(
            `regular expression /${pattern}/: a count above ${MAX_REGEX_COUNT} is not supported in rule regular expressions`,
          );
        }
        const lazy = q[4] ?? '';
        if (min > LINEAR_MAX_COUNT || max > LINEAR_MAX_COUNT) {
          const atom = out.slice(atomStart);
          // A named group cannot appear twice: its copies become non-capturing (test() ignores captures).
          const group = atom.replace(/^\(\?<([A-Za-z_$][\w$]*)>/, '(?:');
          const wrapped = group.startsWith('(') && group.endsWith(')') ? group : `(?:${group})`;
          const parts: string[] = [];
          for (let left = min; left > 0; left -= LINEAR_MAX_COUNT)
            parts.push(`${wrapped}{${Math.min(left, LINEAR_MAX_COUNT)}}${lazy}`);
          if (max === Number.POSITIVE_INFINITY) parts.push(`${wrapped}*${lazy}`);
          else
            for (let left = max - min; left > 0; left -= LINEAR_MAX_COUNT)
              parts.push(`${wrapped}{0,${Math.min(left, LINEAR_MAX_COUNT)}}${lazy}`);
          out = out.slice(0, atomStart) + parts.join('');
        } else out += q[0];
        i += q[0].length;
        atomStart = -1;
        continue;
      }
      // A literal brace.
      atomStart = out.length;
      out += c;
      i++;
      continue;
    }
    if (c === '*' || c === '+' || c === '?') {
      atomStart = -1;
      out += c;
      i++;
      continue;
    }
    atomStart = out.length;
    if (c === '[') {
      i++;
      let body = '';
      if (pattern[i] === '^') {
        body += '^';
        i++;
      }
      const members: number[] = [];
      while (i < n && pattern[i] !== ']') {
        const start = i;
        const a = readAtom(true);
        if (
          pattern[i] === '-' &&
          pattern[i + 1] !== undefined &&
          pattern[i + 1] !== ']' &&
          a.code !== undefined
        ) {
          const save = i;
          i++;
          const b = readAtom(true);
          if (b.code !== undefined && b.code >= a.code) {
            if (ignoreCase) for (let x = a.code; x <= b.code; x++) members.push(x);
            body += pattern.slice(start, i);
            continue;
          }
          i = save;
        }
        if (a.code !== undefined && ignoreCase) members.push(a.code);
        body += a.text;
      }
      i++; // ]
      const present = new Set(members);
      const extra = new Set<number>();
      for (const m of members) for (const v of caseVariants(m)) if (!present.has(v)) extra.add(v);
      out += `[${body}${[...extra].map(unit).join('')}]`;
      continue;
    }
    const a = c === '\\' ? readAtom(false) : { code: c.charCodeAt(0), text: c };
    if (c !== '\\') i++;
    const vars = a.code === undefined ? [] : variants(a.code);
    out += vars.length > 1 ? `[${vars.map(unit).join('')}]` : a.text;
  }
  return out;
}

/** Runs `re` against at most MAX_REGEX_INPUT characters of `s`. */
export function testCapped(re: RegExp, s: string): boolean {
  return re.test(s.length > MAX_REGEX_INPUT ? s.slice(0, MAX_REGEX_INPUT) : s);
}
