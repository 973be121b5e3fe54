/** Shell-style globs (`*` any run, `?` one character) compiled once to anchored regular expressions. */

const cache = new Map<string, RegExp>();

/**
 * Compile a glob to an anchored RegExp. `*` matches any run of characters (including `/` and `:`,
 * as ARN globs expect), `?` one character; everything else is literal.
 *
 * @example globToRegExp('arn:aws:iam::*:role/ci-*').test('arn:aws:iam::1:role/ci-deploy') // true
 */
export function globToRegExp(glob: string, caseInsensitive = false): RegExp {
  const key = `${caseInsensitive ? 'i' : 's'}:${glob}`;
  let re = cache.get(key);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\*?]/g, (c) => (c === '*' ? '.*' : c === '?' ? '.' : `\\${c}`));
    re = new RegExp(`^${body}$`, caseInsensitive ? 'is' : 's');
    cache.set(key, re);
  }
  return re;
}

/** True when `value` matches any of `globs`. */
export function matchesAnyGlob(
  value: string | undefined,
  globs: readonly string[],
  caseInsensitive = false,
): boolean {
  if (value === undefined) return false;
  return globs.some((g) => globToRegExp(g, caseInsensitive).test(value));
}
