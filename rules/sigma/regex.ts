/**
 * Compiles `re` modifier patterns once, refusing the shapes that make a backtracking engine take
 * exponential time: a repeated group that itself contains a repetition (`(a+)+`, `(.*)*`,
 * `(\w+\s?)*`) and back-references. Input is capped so that even polynomial patterns stay bounded.
 */

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
  try {
    return new RegExp(pattern, `${flags.i ? 'i' : ''}${flags.m ? 'm' : ''}${flags.s ? 's' : ''}`);
  } catch (err) {
    throw new Error(`invalid regular expression /${pattern}/: ${(err as Error).message}`);
  }
}

/** Runs `re` against at most MAX_REGEX_INPUT characters of `s`. */
export function testCapped(re: RegExp, s: string): boolean {
  return re.test(s.length > MAX_REGEX_INPUT ? s.slice(0, MAX_REGEX_INPUT) : s);
}
