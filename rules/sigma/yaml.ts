/**
 * Reads one rule file's YAML into a small tree that remembers the line and column of every node, so
 * each problem found later can point at the exact place. Refuses what a rule file never needs and an
 * attacker would use: several documents, huge files, alias bombs, non-scalar keys.
 */

import type { Document } from 'yaml';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';

/** 1-based line and column. */
export interface Pos {
  line?: number;
  column?: number;
}

export type YScalarValue = string | number | boolean | null;

export interface YScalar {
  kind: 'scalar';
  pos: Pos;
  value: YScalarValue;
  /** The scalar as written (e.g. `1.10` for the number 1.1). */
  source?: string;
}
export interface YEntry {
  key: string;
  keyPos: Pos;
  value: YNode;
}
export interface YMap {
  kind: 'map';
  pos: Pos;
  entries: YEntry[];
}
export interface YSeq {
  kind: 'seq';
  pos: Pos;
  items: YNode[];
}
export type YNode = YScalar | YMap | YSeq;

export interface YamlProblem {
  severity: 'error' | 'warning';
  pos: Pos;
  message: string;
}

/** Larger rule files are refused unread: no real rule comes close. */
export const MAX_RULE_FILE_BYTES = 1024 * 1024;
/** Alias expansions allowed in one file (the `yaml` library's own guard against billion-laughs). */
export const MAX_ALIAS_COUNT = 100;
/** Nodes in the expanded tree; a second, independent bound on expansion. */
const MAX_NODES = 100_000;
const MAX_DEPTH = 64;

/** Parses `text` as exactly one YAML document. `root` is set when the document parsed without errors. */
export function parseRuleYaml(text: string): { root?: YNode; problems: YamlProblem[] } {
  const problems: YamlProblem[] = [];
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_RULE_FILE_BYTES) {
    problems.push({
      severity: 'error',
      pos: {},
      message: `file is ${bytes} bytes; rule files are limited to ${MAX_RULE_FILE_BYTES} bytes`,
    });
    return { problems };
  }
  const lineCounter = new LineCounter();
  let parseError: string | undefined;
  const docs = (() => {
    try {
      return parseAllDocuments(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
    } catch (err) {
      // Never seen, but a parser failure must be a refusal naming the file, not a crash of the loader.
      parseError = firstLine(String((err as Error).message));
      return [];
    }
  })();
  if (parseError !== undefined) {
    problems.push({ severity: 'error', pos: {}, message: `YAML could not be parsed: ${parseError}` });
    return { problems };
  }
  const at = (offset: number | undefined): Pos => {
    if (offset === undefined) return {};
    const lp = lineCounter.linePos(offset);
    return { line: lp.line, column: lp.col };
  };
  if (!Array.isArray(docs)) {
    problems.push({ severity: 'error', pos: {}, message: 'file is empty: expected one YAML document' });
    return { problems };
  }
  if (docs.length === 0) {
    problems.push({ severity: 'error', pos: {}, message: 'file is empty: expected one YAML document' });
    return { problems };
  }
  if (docs.length > 1) {
    problems.push({
      severity: 'error',
      pos: at(docs[1]?.range[0]),
      message: `file holds ${docs.length} YAML documents; one file must hold exactly one rule`,
    });
    return { problems };
  }
  const doc = docs[0] as Document.Parsed;
  for (const e of doc.errors) {
    // The parser recurses per level: absurd nesting exhausts the stack, which it reports as its error.
    const message = /Maximum call stack size exceeded/.test(e.message)
      ? `YAML nesting is too deep (the parser ran out of stack; rules need at most ${MAX_DEPTH} levels)`
      : `YAML: ${firstLine(e.message)}`;
    problems.push({ severity: 'error', pos: at(e.pos[0]), message });
  }
  for (const w of doc.warnings) {
    problems.push({ severity: 'warning', pos: at(w.pos[0]), message: `YAML: ${firstLine(w.message)}` });
  }
  if (doc.errors.length > 0) return { problems };
  try {
    // The library counts alias expansions here and throws past the limit.
    doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    problems.push({
      severity: 'error',
      pos: {},
      message: `YAML aliases expand too much (limit ${MAX_ALIAS_COUNT}): ${firstLine(String((err as Error).message))}`,
    });
    return { problems };
  }
  if (doc.contents === null) {
    problems.push({ severity: 'error', pos: {}, message: 'file is empty: expected one YAML document' });
    return { problems };
  }
  let budget = MAX_NODES;
  const convert = (node: unknown, depth: number): YNode | undefined => {
    if (--budget < 0) {
      if (budget === -1) problems.push({ severity: 'error', pos: {}, message: 'YAML document is too large' });
      return undefined;
    }
    if (depth > MAX_DEPTH) {
      problems.push({ severity: 'error', pos: posOf(node), message: 'YAML nesting is too deep' });
      return undefined;
    }
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (target === undefined) {
        problems.push({ severity: 'error', pos: posOf(node), message: `unresolved alias *${node.source}` });
        return undefined;
      }
      return convert(target, depth + 1);
    }
    if (isScalar(node)) {
      const v = node.value;
      const pos = posOf(node);
      if (v === null || typeof v === 'string' || typeof v === 'boolean') {
        return { kind: 'scalar', pos, value: v, source: node.source };
      }
      if (typeof v === 'number') {
        return { kind: 'scalar', pos, value: v, source: node.source };
      }
      if (typeof v === 'bigint') return { kind: 'scalar', pos, value: String(v), source: node.source };
      problems.push({ severity: 'error', pos, message: `unsupported YAML scalar of type ${typeof v}` });
      return undefined;
    }
    if (isMap(node)) {
      const entries: YEntry[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        const keyPos = posOf(k);
        if (!isScalar(k) || (k.value !== null && typeof k.value === 'object')) {
          problems.push({ severity: 'error', pos: keyPos, message: 'map keys must be plain scalars' });
          continue;
        }
        const key = k.value === null ? '' : String(k.value);
        const value = pair.value === null ? nullScalar(keyPos) : convert(pair.value, depth + 1);
        if (value === undefined) continue;
        entries.push({ key, keyPos, value });
      }
      return { kind: 'map', pos: posOf(node), entries };
    }
    if (isSeq(node)) {
      const items: YNode[] = [];
      for (const item of node.items) {
        const v = item === null ? nullScalar(posOf(node)) : convert(item, depth + 1);
        if (v !== undefined) items.push(v);
      }
      return { kind: 'seq', pos: posOf(node), items };
    }
    problems.push({ severity: 'error', pos: posOf(node), message: 'unsupported YAML node' });
    return undefined;
  };
  const posOf = (node: unknown): Pos => {
    const range = (node as Node | null)?.range;
    return range ? at(range[0]) : {};
  };
  const root = convert(doc.contents, 0);
  if (problems.some((p) => p.severity === 'error')) return { problems };
  return { root, problems };
}

const nullScalar = (pos: Pos): YScalar => ({ kind: 'scalar', pos, value: null });

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

/** The entry of `map` named `key`, if any. */
export function entry(map: YMap, key: string): YEntry | undefined {
  for (const e of map.entries) if (e.key === key) return e;
  return undefined;
}

/** Plain JSON-like value of a node. Objects are built with own data properties only (no prototype setters). */
export function toPlain(node: YNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toPlain);
    case 'map':
      return Object.fromEntries(node.entries.map((e) => [e.key, toPlain(e.value)]));
  }
}

export const describeKind = (node: YNode): string =>
  node.kind === 'scalar'
    ? node.value === null
      ? 'null'
      : typeof node.value
    : node.kind === 'seq'
      ? 'list'
      : 'map';
