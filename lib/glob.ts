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

/** Each list of globs compiled once into one anchored alternation (per case mode). */
const lists = new WeakMap<readonly string[], { s?: RegExp; i?: RegExp }>();

/** True when `value` matches any of `globs`. The list is compiled once (keep passing the same array). */
export function matchesAnyGlob(
  value: string | undefined,
  globs: readonly string[],
  caseInsensitive = false,
): boolean {
  if (value === undefined || globs.length === 0) return false;
  let entry = lists.get(globs);
  if (!entry) {
    entry = {};
    lists.set(globs, entry);
  }
  const mode = caseInsensitive ? 'i' : 's';
  let re = entry[mode];
  if (!re) {
    const body = globs.map((g) => globToRegExp(g, caseInsensitive).source.slice(1, -1)).join('|');
    re = new RegExp(`^(?:${body})$`, caseInsensitive ? 'is' : 's');
    entry[mode] = re;
  }
  return re.test(value);
}
