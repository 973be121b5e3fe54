/**
 * The Sigma condition language: identifiers, `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`,
 * `any of x*`, `1 of them`, `all of them`; precedence not > and > or. Parsed once into a tree whose
 * patterns are resolved against the rule's search identifiers, then compiled into closures, so a
 * record is evaluated without walking the tree.
 */

export type Cond =
  | { t: 'id'; name: string }
  | { t: 'and'; xs: Cond[] }
  | { t: 'or'; xs: Cond[] }
  | { t: 'not'; x: Cond }
  /** `1 of` / `all of` over a pattern (`them` = every identifier not starting with `_`). */
  | { t: 'of'; quant: 'one' | 'all'; pattern: string; names: string[] };

export class ConditionError extends Error {}

type Tok = { kind: 'lp' | 'rp' | 'word'; text: string; at: number };

function tokenize(src: string): Tok[] {
  const pipe = src.indexOf('|');
  if (pipe >= 0) {
    throw new ConditionError(
      `aggregations are not supported ('${src.slice(pipe).trim()}'); secbot evaluates one record at a time`,
    );
  }
  const toks: Tok[] = [];
  const re = /\s*(?:(\()|(\))|([^\s()]+))/y;
  re.lastIndex = 0;
  while (re.lastIndex < src.length) {
    const m = re.exec(src);
    if (m === null) break;
    const at = m.index + m[0].length - (m[1] ?? m[2] ?? m[3] ?? '').length;
    if (m[1]) toks.push({ kind: 'lp', text: '(', at });
    else if (m[2]) toks.push({ kind: 'rp', text: ')', at });
    else if (m[3]) toks.push({ kind: 'word', text: m[3], at });
    else break;
  }
  return toks;
}

const IDENT = /^[A-Za-z0-9_.*-]+$/;
const RESERVED = new Set(['and', 'or', 'not', 'of', 'them', 'all', 'any', 'near']);

/** Parses a condition. Throws ConditionError naming the offending token. */
export function parseCondition(src: string): Cond {
  const toks = tokenize(src);
  let i = 0;
  const peekWord = (w: string): boolean => {
    const t = toks[i];
    return t !== undefined && t.kind === 'word' && t.text.toLowerCase() === w;
  };
  const where = (t: Tok | undefined): string => (t ? `'${t.text}' at column ${t.at + 1}` : 'the end');

  const parseOr = (): Cond => {
    const xs = [parseAnd()];
    while (peekWord('or')) {
      i++;
      xs.push(parseAnd());
    }
    return xs.length === 1 ? (xs[0] as Cond) : { t: 'or', xs };
  };
  const parseAnd = (): Cond => {
    const xs = [parseNot()];
    while (peekWord('and')) {
      i++;
      xs.push(parseNot());
    }
    return xs.length === 1 ? (xs[0] as Cond) : { t: 'and', xs };
  };
  const parseNot = (): Cond => {
    if (peekWord('not')) {
      i++;
      return { t: 'not', x: parseNot() };
    }
    return parsePrimary();
  };
  const parsePrimary = (): Cond => {
    const t = toks[i];
    if (!t) throw new ConditionError('condition ends where an identifier or ( was expected');
    if (t.kind === 'lp') {
      i++;
      const x = parseOr();
      const close = toks[i];
      if (close?.kind !== 'rp') throw new ConditionError(`expected ) but found ${where(close)}`);
      i++;
      return x;
    }
    if (t.kind === 'rp') throw new ConditionError(`unexpected ${where(t)}`);
    const word = t.text.toLowerCase();
    const next = toks[i + 1];
    if (next && next.kind === 'word' && next.text.toLowerCase() === 'of') {
      let quant: 'one' | 'all';
      if (word === '1' || word === 'any') quant = 'one';
      else if (word === 'all') quant = 'all';
      else throw new ConditionError(`'${t.text} of' is not supported: use '1 of' or 'all of'`);
      const target = toks[i + 2];
      if (target?.kind !== 'word') {
        throw new ConditionError(
          `'${t.text} of' needs an identifier pattern or 'them', found ${where(target)}`,
        );
      }
      i += 3;
      const pattern = target.text.toLowerCase() === 'them' ? 'them' : target.text;
      if (pattern !== 'them' && !IDENT.test(pattern))
        throw new ConditionError(`invalid identifier pattern ${where(target)}`);
      return { t: 'of', quant, pattern, names: [] };
    }
    if (RESERVED.has(word)) throw new ConditionError(`unexpected ${where(t)}`);
    if (!IDENT.test(t.text)) throw new ConditionError(`invalid identifier ${where(t)}`);
    if (t.text.includes('*')) {
      throw new ConditionError(`wildcard ${where(t)} needs '1 of' or 'all of' in front of it`);
    }
    i++;
    return { t: 'id', name: t.text };
  };

  if (toks.length === 0) throw new ConditionError('condition is empty');
  const tree = parseOr();
  if (i < toks.length) throw new ConditionError(`unexpected ${where(toks[i])}`);
  return tree;
}

const globToRe = (pattern: string): RegExp =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\-]/g, '\\$&').replace(/\*/g, '.*')}$`);

/**
 * Resolves identifiers and `x of pattern` against the defined search identifiers (in definition
 * order). Throws ConditionError for undefined identifiers and patterns that match nothing.
 */
export function resolveCondition(c: Cond, defined: readonly string[]): Cond {
  switch (c.t) {
    case 'id':
      if (!defined.includes(c.name)) throw new ConditionError(`search identifier '${c.name}' is not defined`);
      return c;
    case 'and':
    case 'or':
      return { t: c.t, xs: c.xs.map((x) => resolveCondition(x, defined)) };
    case 'not':
      return { t: 'not', x: resolveCondition(c.x, defined) };
    case 'of': {
      const names =
        c.pattern === 'them'
          ? defined.filter((n) => !n.startsWith('_'))
          : defined.filter((n) => globToRe(c.pattern).test(n));
      if (names.length === 0) {
        throw new ConditionError(
          c.pattern === 'them'
            ? `'them' matches no search identifier`
            : `pattern '${c.pattern}' matches no search identifier`,
        );
      }
      return { ...c, names };
    }
  }
}

export function identifiersIn(c: Cond, out = new Set<string>()): Set<string> {
  switch (c.t) {
    case 'id':
      out.add(c.name);
      break;
    case 'and':
    case 'or':
      for (const x of c.xs) identifiersIn(x, out);
      break;
    case 'not':
      identifiersIn(c.x, out);
      break;
    case 'of':
      for (const n of c.names) out.add(n);
      break;
  }
  return out;
}

export type Pred = (record: unknown) => boolean;

/** The predicate that always holds (a selection every candidate satisfies): `and` drops it, `or` keeps only it. */
export const ALWAYS: Pred = () => true;

function allOf(all: Pred[]): Pred {
  const ps = all.filter((p) => p !== ALWAYS);
  if (ps.length === 0) return ALWAYS;
  if (ps.length === 1) return ps[0] as Pred;
  if (ps.length === 2) {
    const [a, b] = ps as [Pred, Pred];
    return (r) => a(r) && b(r);
  }
  if (ps.length === 3) {
    const [a, b, c] = ps as [Pred, Pred, Pred];
    return (r) => a(r) && b(r) && c(r);
  }
  return (r) => {
    for (let k = 0; k < ps.length; k++) if (!(ps[k] as Pred)(r)) return false;
    return true;
  };
}

function anyOf(ps: Pred[]): Pred {
  if (ps.includes(ALWAYS)) return ALWAYS;
  if (ps.length === 1) return ps[0] as Pred;
  if (ps.length === 2) {
    const [a, b] = ps as [Pred, Pred];
    return (r) => a(r) || b(r);
  }
  if (ps.length === 3) {
    const [a, b, c] = ps as [Pred, Pred, Pred];
    return (r) => a(r) || b(r) || c(r);
  }
  return (r) => {
    for (let k = 0; k < ps.length; k++) if ((ps[k] as Pred)(r)) return true;
    return false;
  };
}

/** Compiles a resolved condition into one closure over the selections' closures. */
export function compileCondition(c: Cond, selections: ReadonlyMap<string, Pred>): Pred {
  const sel = (name: string): Pred => {
    const p = selections.get(name);
    if (!p) throw new ConditionError(`search identifier '${name}' is not defined`);
    return p;
  };
  switch (c.t) {
    case 'id':
      return sel(c.name);
    case 'and': {
      // `selection and not filter`, the commonest shape, without a closure for the `not`.
      const [first, second] = c.xs;
      if (c.xs.length === 2 && first && second?.t === 'not') {
        const a = compileCondition(first, selections);
        const x = compileCondition(second.x, selections);
        if (x === ALWAYS) return () => false;
        if (a === ALWAYS) return (r) => !x(r);
        return (r) => a(r) && !x(r);
      }
      return allOf(c.xs.map((x) => compileCondition(x, selections)));
    }
    case 'or':
      return anyOf(c.xs.map((x) => compileCondition(x, selections)));
    case 'not': {
      const x = compileCondition(c.x, selections);
      if (x === ALWAYS) return () => false;
      return (r) => !x(r);
    }
    case 'of': {
      const ps = c.names.map(sel);
      return c.quant === 'all' ? allOf(ps) : anyOf(ps);
    }
  }
}

/**
 * The values a field must take (case-insensitively) for the condition to hold, or undefined when the
 * condition does not pin the field. `leaf` gives each selection's own constraint.
 * AND: intersection of the constraining children. OR: union, only when every branch constrains.
 * NOT: unconstrained.
 */
export function conditionConstraint(
  c: Cond,
  leaf: (name: string) => readonly string[] | undefined,
): readonly string[] | undefined {
  switch (c.t) {
    case 'id':
      return leaf(c.name);
    case 'not':
      return undefined;
    case 'and':
      return intersectAll(c.xs.map((x) => conditionConstraint(x, leaf)));
    case 'or':
      return unionAll(c.xs.map((x) => conditionConstraint(x, leaf)));
    case 'of': {
      const xs = c.names.map(leaf);
      return c.quant === 'all' ? intersectAll(xs) : unionAll(xs);
    }
  }
}

/** Intersection (case-insensitive, first spelling kept) of the defined sets; undefined if none is defined. */
export function intersectAll(
  sets: readonly (readonly string[] | undefined)[],
): readonly string[] | undefined {
  let acc: string[] | undefined;
  for (const s of sets) {
    if (s === undefined) continue;
    if (acc === undefined) acc = dedupe(s);
    else {
      const keep = new Set(s.map((v) => v.toLowerCase()));
      acc = acc.filter((v) => keep.has(v.toLowerCase()));
    }
  }
  return acc;
}

/** Union (case-insensitive, first spelling kept) when every set is defined; else undefined. */
export function unionAll(sets: readonly (readonly string[] | undefined)[]): readonly string[] | undefined {
  if (sets.length === 0 || sets.some((s) => s === undefined)) return undefined;
  return dedupe(sets.flatMap((s) => s as readonly string[]));
}

function dedupe(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const v of values) {
    const k = v.toLowerCase();
    if (!seen.has(k)) {
      seen.add(k);
      out.push(v);
    }
  }
  return out;
}
