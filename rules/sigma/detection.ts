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
import { type CompiledItem, compileItem, compileKeywords, type FieldTest } from './values.js';
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
  return { test: build(() => false), build, constraints };
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
