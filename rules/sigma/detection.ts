/**
 * The `detection` block: named search identifiers (a map = AND of fields, a list of maps = OR, a list
 * of plain values = keywords) and the condition over them, compiled into one predicate, plus the
 * eventSource / eventName values every match must carry (for the index and the EventBridge pattern).
 */
import {
  ALWAYS,
  type Cond,
  ConditionError,
  compileCondition,
  conditionConstraint,
  identifiersIn,
  intersectAll,
  type Pred,
  parseCondition,
  resolveCondition,
  unionAll,
} from './condition.js';
import type { Extension } from './extension.js';
import { FieldPath, type LeafPred } from './fieldpath.js';
import type { Reporter } from './report.js';
import {
  type CompiledItem,
  compileItem,
  compileKeywords,
  type FieldCheck,
  type FieldTest,
  fieldCheckOf,
} from './values.js';
import type { Pos, YMap, YNode } from './yaml.js';

export interface CompiledDetection {
  matches: Pred;
  /**
   * `matches` for a record whose eventName and eventSource are among the pinned ones (ASCII case
   * folded): what the rule index guarantees for its candidates. Equality tests the pins already imply
   * are left out (when none can be, it is `matches` itself).
   */
  matchesCandidate?: Pred;
  eventSources?: string[];
  eventNames?: string[];
  /** The `userIdentity.type` values every match carries (plain equality, ASCII case folded), if any. */
  identityTypes?: string[];
  /**
   * What the condition requires of the eventName and eventSource alone, whatever else the record
   * holds: false for a pair (as the record spells them, own string properties) no match can carry. Set
   * when some selection tests either field with more than a plain equality (`eventName|startswith`),
   * which the index cannot key on: it is run once per pair when the index builds its candidate lists.
   */
  indexFilter?: (eventName: string, eventSource: string) => boolean;
}

/** A-Z folded to a-z, nothing else: the case folding of plain Sigma equality on ASCII values. */
export function asciiLower(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 90) return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  }
  return s;
}

/**
 * Fields the index cares about: event source and name (also the EventBridge pattern's), and the
 * caller's identity type (a prefilter only: its equality is still evaluated).
 */
const INDEXED = ['eventSource', 'eventName', 'userIdentity.type'] as const;
type Indexed = (typeof INDEXED)[number];

interface Selection {
  test: Pred;
  /** The test without the items `skip` names (implied for the record at hand). */
  build(skip: (item: CompiledItem) => boolean): Pred;
  constraints: Record<Indexed, readonly string[] | undefined>;
  /**
   * The selection's tests of the eventName and eventSource themselves, as one predicate on a record that
   * holds only those two (undefined: it tests neither). Every record the selection matches satisfies it.
   */
  nameSource?: Pred;
  /** Whether some item on eventName / eventSource is more than a plain equality (see indexFilter). */
  beyondEquality?: boolean;
  /**
   * `build(skip)` as data, when it is a conjunction of field checks (a map selection, no `within`):
   * the checks of the items kept. Undefined for any other shape.
   */
  checks?(skip: (item: CompiledItem) => boolean): FieldCheck[] | undefined;
}

/**
 * A candidate test as data: every check in `all` holds and no group of `none` holds in full. What a
 * condition of selections joined by `and` (and `and not`) compiles to when each is a conjunction of
 * field checks; the index judges such a rule from these objects (ruleset.ts).
 */
export interface CheckPlan {
  all: readonly FieldCheck[];
  none: readonly (readonly FieldCheck[])[];
}

const checkPlans = new WeakMap<Pred, CheckPlan>();

/** The CheckPlan a candidate test is, when it has one. */
export function checkPlanOf(test: ((record: never) => boolean) | undefined): CheckPlan | undefined {
  return test === undefined ? undefined : checkPlans.get(test as unknown as Pred);
}

/** `c` as a CheckPlan, given each selection's checks; undefined for shapes other than and / and not. */
function planOf(c: Cond, checks: (name: string) => FieldCheck[] | undefined): CheckPlan | undefined {
  switch (c.t) {
    case 'id': {
      const all = checks(c.name);
      return all ? { all, none: [] } : undefined;
    }
    case 'not': {
      const inner = planOf(c.x, checks);
      return inner && inner.none.length === 0 ? { all: [], none: [inner.all] } : undefined;
    }
    case 'and': {
      const parts = c.xs.map((x) => planOf(x, checks));
      if (parts.some((p) => p === undefined)) return undefined;
      return {
        all: parts.flatMap((p) => (p as CheckPlan).all),
        none: parts.flatMap((p) => (p as CheckPlan).none),
      };
    }
    case 'of':
      if (c.quant === 'all' || c.names.length === 1) {
        return planOf({ t: 'and', xs: c.names.map((name) => ({ t: 'id', name })) }, checks);
      }
      return undefined;
    case 'or':
      return undefined;
  }
}

/** The fields the index filter reads: a record's eventName and eventSource, nothing else. */
const NAME_SOURCE = new Set(['eventName', 'eventSource']);

/**
 * What `c` requires of the eventName and eventSource (see Selection.nameSource): AND of what the
 * children require, OR when every branch requires something, nothing under NOT.
 */
function nameSourceOf(c: Cond, sel: (name: string) => Pred | undefined): Pred | undefined {
  const all = (ps: (Pred | undefined)[]): Pred | undefined => {
    const defined = ps.filter((p): p is Pred => p !== undefined);
    if (defined.length === 0) return undefined;
    return (r) => defined.every((p) => p(r));
  };
  const any = (ps: (Pred | undefined)[]): Pred | undefined => {
    if (ps.length === 0 || ps.some((p) => p === undefined)) return undefined;
    return (r) => (ps as Pred[]).some((p) => p(r));
  };
  switch (c.t) {
    case 'id':
      return sel(c.name);
    case 'not':
      return undefined;
    case 'and':
      return all(c.xs.map((x) => nameSourceOf(x, sel)));
    case 'or':
      return any(c.xs.map((x) => nameSourceOf(x, sel)));
    case 'of':
      return c.quant === 'all' ? all(c.names.map(sel)) : any(c.names.map(sel));
  }
}

const UNCONSTRAINED: Record<Indexed, undefined> = {
  eventSource: undefined,
  eventName: undefined,
  'userIdentity.type': undefined,
};

export function compileDetection(
  node: YNode,
  within: Extension['within'],
  rep: Reporter,
): CompiledDetection | undefined {
  if (node.kind !== 'map') {
    rep.error(node.pos, "'detection' must be a map of search identifiers and a condition");
    return undefined;
  }
  const scopes = new Map<string, { path: string; pos: Pos }>();
  for (const w of within) scopes.set(w.selection, { path: w.path, pos: w.pos });

  let conditionNode: YNode | undefined;
  const selections = new Map<string, Selection>();
  const names: string[] = [];
  let ok = true;
  for (const e of node.entries) {
    if (e.key === 'condition') {
      conditionNode = e.value;
      continue;
    }
    if (e.key === 'timeframe') {
      rep.error(
        e.keyPos,
        "'timeframe' (aggregation over time) is not supported: secbot evaluates one record at a time",
      );
      ok = false;
      continue;
    }
    names.push(e.key);
    const scope = scopes.get(e.key);
    const sel = compileSelection(e.key, e.value, scope, rep);
    if (sel) selections.set(e.key, sel);
    else ok = false;
  }
  for (const [name, s] of scopes) {
    if (!names.includes(name)) {
      rep.error(s.pos, `secbot.within names '${name}', which is not a search identifier of this rule`);
      ok = false;
    }
  }
  if (conditionNode === undefined) {
    rep.error(node.pos, "'detection' has no condition");
    return undefined;
  }
  if (names.length === 0) {
    rep.error(node.pos, "'detection' defines no search identifier");
    return undefined;
  }
  const conds = conditionStrings(conditionNode, rep);
  if (!conds) return undefined;
  const trees: Cond[] = [];
  for (const c of conds) {
    try {
      trees.push(resolveCondition(parseCondition(c.text), names));
    } catch (err) {
      if (!(err instanceof ConditionError)) throw err;
      rep.error(c.pos, `condition '${c.text}': ${err.message}`);
      ok = false;
    }
  }
  if (!ok) return undefined;
  const tree: Cond = trees.length === 1 ? (trees[0] as Cond) : { t: 'or', xs: trees };

  const used = identifiersIn(tree);
  for (const e of node.entries) {
    if (e.key !== 'condition' && !used.has(e.key)) {
      rep.warn(e.keyPos, `search identifier '${e.key}' is not used by the condition`);
    }
  }

  const preds = new Map<string, Pred>();
  for (const [name, s] of selections) preds.set(name, s.test);
  const matches = compileCondition(tree, preds);
  const result: CompiledDetection = { matches };
  const pins: Partial<Record<Indexed, Set<string>>> = {};
  for (const field of INDEXED) {
    const values = conditionConstraint(tree, (name) => selections.get(name)?.constraints[field]);
    if (values === undefined) continue;
    if (field === 'userIdentity.type') {
      // Only a prefilter: a contradiction here is left to the rule's own test (and warns nowhere).
      if (values.length > 0) result.identityTypes = [...values];
      continue;
    }
    if (values.length === 0) {
      rep.warn(
        conditionNode.pos,
        `the condition can never match: its ${field} constraints exclude each other`,
      );
    }
    result[field === 'eventName' ? 'eventNames' : 'eventSources'] = [...values];
    pins[field] = new Set(values.map(asciiLower));
  }
  if ([...selections.values()].some((sel) => sel.beyondEquality)) {
    const need = nameSourceOf(tree, (name) => selections.get(name)?.nameSource);
    if (need) result.indexFilter = (eventName, eventSource) => need({ eventName, eventSource });
  }
  // For the index's candidates, an equality on eventName / eventSource whose values include every
  // pinned one always holds (the record carries one of the pins): it need not be evaluated again.
  const implied = (item: CompiledItem): boolean => {
    if (item.field !== 'eventName' && item.field !== 'eventSource') return false;
    const pinned = pins[item.field];
    if (!pinned || pinned.size === 0 || !item.plainValues) return false;
    const own = new Set(item.plainValues.map(asciiLower));
    for (const p of pinned) if (!own.has(p)) return false;
    return true;
  };
  let skipped = false;
  const candidatePreds = new Map<string, Pred>();
  for (const [name, s] of selections) {
    candidatePreds.set(
      name,
      s.build((item) => {
        const skip = implied(item);
        skipped ||= skip;
        return skip;
      }),
    );
  }
  // Always set: the compiled test itself, for callers that guard it (the index's candidates).
  result.matchesCandidate = skipped ? compileCondition(tree, candidatePreds) : matches;
  // The same test as data, when it is one (the index then judges it from these few objects).
  const plan = planOf(tree, (name) => selections.get(name)?.checks?.(implied));
  if (plan && !checkPlans.has(result.matchesCandidate)) checkPlans.set(result.matchesCandidate, plan);
  return result;
}

function conditionStrings(node: YNode, rep: Reporter): { text: string; pos: Pos }[] | undefined {
  if (node.kind === 'scalar' && typeof node.value === 'string') return [{ text: node.value, pos: node.pos }];
  if (node.kind === 'seq' && node.items.length > 0) {
    const out: { text: string; pos: Pos }[] = [];
    for (const item of node.items) {
      if (item.kind !== 'scalar' || typeof item.value !== 'string') {
        rep.error(item.pos, 'each condition in the list must be a string');
        return undefined;
      }
      out.push({ text: item.value, pos: item.pos });
    }
    return out;
  }
  rep.error(node.pos, "'condition' must be a string or a list of strings");
  return undefined;
}

function compileSelection(
  name: string,
  node: YNode,
  scope: { path: string; pos: Pos } | undefined,
  rep: Reporter,
): Selection | undefined {
  if (node.kind === 'map') return compileMap(name, node, scope, rep);
  if (scope) {
    rep.error(scope.pos, `secbot.within applies to a map selection; '${name}' is not a map`);
    return undefined;
  }
  if (node.kind === 'seq' && node.items.length > 0 && node.items.every((i) => i.kind === 'map')) {
    const alts: Selection[] = [];
    for (const item of node.items) {
      const s = compileMap(name, item as YMap, undefined, rep);
      if (!s) return undefined;
      alts.push(s);
    }
    const any = (tests: Pred[]): Pred =>
      tests.length === 1
        ? (tests[0] as Pred)
        : (r) => {
            for (let k = 0; k < tests.length; k++) if ((tests[k] as Pred)(r)) return true;
            return false;
          };
    return {
      test: any(alts.map((a) => a.test)),
      build: (skip) => any(alts.map((a) => a.build(skip))),
      constraints: {
        eventSource: unionAll(alts.map((a) => a.constraints.eventSource)),
        eventName: unionAll(alts.map((a) => a.constraints.eventName)),
        'userIdentity.type': unionAll(alts.map((a) => a.constraints['userIdentity.type'])),
      },
      nameSource: alts.every((a) => a.nameSource !== undefined)
        ? any(alts.map((a) => a.nameSource as Pred))
        : undefined,
      beyondEquality: alts.some((a) => a.beyondEquality),
    };
  }
  if (node.kind === 'seq' && node.items.some((i) => i.kind !== 'scalar')) {
    rep.error(node.pos, `search identifier '${name}' mixes maps and plain values; use separate identifiers`);
    return undefined;
  }
  const kw = compileKeywords(node, name, rep);
  if (!kw) return undefined;
  const test: Pred = (r) => kw(r, r);
  return { test, build: () => test, constraints: UNCONSTRAINED };
}

function compileMap(
  name: string,
  node: YMap,
  scope: { path: string; pos: Pos } | undefined,
  rep: Reporter,
): Selection | undefined {
  if (node.entries.length === 0) {
    rep.error(node.pos, `search identifier '${name}' is an empty map`);
    return undefined;
  }
  const prefix = scope ? `${scope.path}.` : undefined;
  const absolute: CompiledItem[] = [];
  const relative: CompiledItem[] = [];
  let ok = true;
  for (const e of node.entries) {
    const field = e.key.split('|')[0] ?? '';
    const rel = prefix !== undefined && field.startsWith(prefix) && field.length > prefix.length;
    const item = compileItem(
      e.key,
      e.keyPos,
      e.value,
      rep,
      rel ? field.slice((prefix as string).length) : undefined,
    );
    if (!item) {
      ok = false;
      continue;
    }
    (rel ? relative : absolute).push(item);
  }
  if (!ok) return undefined;
  if (scope && relative.length === 0) {
    rep.error(scope.pos, `secbot.within: no field of '${name}' starts with '${scope.path}.'`);
    return undefined;
  }
  const constraints: Record<Indexed, readonly string[] | undefined> = {
    eventSource: intersectAll(absolute.filter((i) => i.field === 'eventSource').map((i) => i.plainValues)),
    eventName: intersectAll(absolute.filter((i) => i.field === 'eventName').map((i) => i.plainValues)),
    'userIdentity.type': intersectAll(
      absolute.filter((i) => i.field === 'userIdentity.type').map((i) => i.plainValues),
    ),
  };
  const build = (skip: (item: CompiledItem) => boolean): Pred => {
    const kept = absolute.filter((i) => !skip(i));
    const abs = allFields(kept.map((i) => i.test));
    if (!scope) {
      if (kept.length === 0) return ALWAYS;
      // Called as abs(record): the scope is the record, and no test reads `root` (fieldref would).
      if (!kept.some((i) => i.usesRoot)) return abs as unknown as Pred;
      return (r) => abs(r, r);
    }
    const rels = allFields(relative.map((i) => i.test));
    const path = new FieldPath(scope.path);
    // One element must satisfy every relative field.
    const element: LeafPred = (el, root) => typeof el === 'object' && el !== null && rels(el, root);
    return kept.length === 0 ? (r) => path.some(r, element, r) : (r) => abs(r, r) && path.some(r, element, r);
  };
  // The items on eventName / eventSource themselves (absolute, single-segment paths: each reads only its
  // own field of the record, so a record holding only those two gives the same answer).
  const onNameSource = absolute.filter((i) => NAME_SOURCE.has(i.field) && !i.usesRoot);
  const nameSourceTests = allFields(onNameSource.map((i) => i.test));
  const checks = (skip: (item: CompiledItem) => boolean): FieldCheck[] | undefined => {
    if (scope) return undefined;
    const out: FieldCheck[] = [];
    for (const item of absolute) {
      if (skip(item)) continue;
      const check = item.usesRoot ? undefined : fieldCheckOf(item.test as unknown as Pred);
      if (!check) return undefined;
      out.push(check);
    }
    return out;
  };
  return {
    test: build(() => false),
    build,
    constraints,
    nameSource: onNameSource.length > 0 ? (r) => nameSourceTests(r, r) : undefined,
    beyondEquality: onNameSource.some((i) => !i.plainValues),
    checks,
  };
}

function allFields(tests: FieldTest[]): FieldTest {
  if (tests.length === 0) return () => true;
  if (tests.length === 1) return tests[0] as FieldTest;
  if (tests.length === 2) {
    const [a, b] = tests as [FieldTest, FieldTest];
    return (s, r) => a(s, r) && b(s, r);
  }
  return (s, r) => {
    for (let k = 0; k < tests.length; k++) if (!(tests[k] as FieldTest)(s, r)) return false;
    return true;
  };
}
