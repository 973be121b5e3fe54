/**
 * Generated inputs for the fuzz suites (fast-check): random JSON, real records from ../shared/corpus with
 * mutations, deep nesting, huge strings and prototype-pollution keys, each as a message body (text) and,
 * where it is an object, as a value. Shared by fuzz-decoder and fuzz-engine.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { completeRecord } from '../../rules/testing.js';

/** 100,000 each, as issue 6 asks; `SECBOT_FUZZ_RUNS` overrides it for a quick local run. */
export const FUZZ_RUNS = Number(process.env.SECBOT_FUZZ_RUNS ?? 100_000);
export const FUZZ_SEED = 20_240_601;

const CORPUS = ['public.jsonl', 'background.jsonl'].map((f) =>
  fileURLToPath(new URL(`../../../shared/corpus/${f}`, import.meta.url)),
);
export const CORPUS_PRESENT = CORPUS.every((f) => existsSync(f));

/** The corpus's records (parsed once), or a few built ones when ../shared is absent. */
export function corpusEvents(): Record<string, unknown>[] {
  if (!CORPUS_PRESENT) {
    const now = new Date('2024-05-01T12:00:00Z');
    return [
      completeRecord({ eventName: 'CreateUser' }, now),
      completeRecord({ eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging' }, now),
      completeRecord(
        {
          eventSource: 'ec2.amazonaws.com',
          eventName: 'AuthorizeSecurityGroupIngress',
          requestParameters: {
            ipPermissions: { items: [{ ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] },
          },
        },
        now,
      ),
    ] as Record<string, unknown>[];
  }
  const out: Record<string, unknown>[] = [];
  for (const file of CORPUS) {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const { event } = JSON.parse(line) as { event?: Record<string, unknown> };
      if (event && typeof event === 'object') out.push(event);
    }
  }
  return out;
}

export const PROTO_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Keys real records use, envelope keys, and the prototype keys: mutations land where parsers look. */
const KEYS = [
  'eventID',
  'eventName',
  'eventSource',
  'eventTime',
  'eventVersion',
  'userIdentity',
  'type',
  'arn',
  'userName',
  'principalId',
  'accountId',
  'sessionContext',
  'sessionIssuer',
  'attributes',
  'mfaAuthenticated',
  'invokedBy',
  'requestParameters',
  'responseElements',
  'additionalEventData',
  'sourceIPAddress',
  'userAgent',
  'errorCode',
  'recipientAccountId',
  'awsRegion',
  'policyDocument',
  'ipPermissions',
  'items',
  'cidrIp',
  'ipRanges',
  'Records',
  'detail',
  'detail-type',
  'Message',
  'Type',
  ...PROTO_KEYS,
];

/** Set an own, enumerable property (never the prototype setter behind `obj.__proto__ = …`). */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

const clone = <T>(v: T): T => structuredClone(v);

/** A value for a mutation: JSON of any kind, a long or hostile string, a deep little tree. */
const mutationValue = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom('a', '"Effect":"Allow" ', '*', ':assumed-role/aws', 'é', '<!channel>'),
        fc.integer({ min: 1, max: 20_000 }),
      )
      .map(([u, k]) => u.repeat(k)),
  },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1e308, Number.MIN_VALUE, '', [], {}) },
);

type Mutation =
  | { kind: 'set'; path: string[]; value: unknown }
  | { kind: 'delete'; path: string[] }
  | { kind: 'wrap'; path: string[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('set' as const),
    path: fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 4 }),
    value: mutationValue,
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    path: fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    kind: fc.constant('wrap' as const),
    path: fc.array(fc.constantFrom(...KEYS), { minLength: 1, maxLength: 3 }),
  }),
);

function applyMutation(root: Record<string, unknown>, m: Mutation): void {
  let node: Record<string, unknown> = root;
  for (const key of m.path.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (next === null || typeof next !== 'object') {
      const fresh: Record<string, unknown> = {};
      setOwn(node, key, fresh);
      node = fresh;
    } else node = next as Record<string, unknown>;
  }
  const last = m.path[m.path.length - 1] as string;
  if (m.kind === 'set') setOwn(node, last, m.value);
  else if (m.kind === 'delete') delete node[last];
  else if (Object.hasOwn(node, last)) setOwn(node, last, [node[last], { [last]: node[last] }]);
}

export type Envelope = 'none' | 'eventbridge' | 'sns' | 'log' | 'sns+eventbridge';

export function wrapRecord(rec: unknown, envelope: Envelope): unknown {
  switch (envelope) {
    case 'eventbridge':
      return { version: '0', 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.iam', detail: rec };
    case 'sns':
      return { Type: 'Notification', MessageId: 'm', Message: JSON.stringify(rec) };
    case 'log':
      return { Records: [rec, rec] };
    case 'sns+eventbridge':
      return { Type: 'Notification', Message: JSON.stringify(wrapRecord(rec, 'eventbridge')) };
    default:
      return rec;
  }
}

/** One fuzz case: the body text, and the object it came from (when there is one). */
export interface FuzzCase {
  kind: string;
  text: string | Uint8Array;
  value?: unknown;
  /** What the decoder must answer, when the case determines it. */
  expect?: 'too_deep' | 'too_large';
}

const envelopes = fc.constantFrom<Envelope>('none', 'none', 'eventbridge', 'sns', 'log', 'sns+eventbridge');

/** Real records, mutated 0–4 times, in an envelope; sometimes the text is then cut or spliced. */
export function mutatedCorpus(events: Record<string, unknown>[]): fc.Arbitrary<FuzzCase> {
  return fc
    .record({
      index: fc.nat(events.length - 1),
      mutations: fc.array(mutation, { maxLength: 4 }),
      envelope: envelopes,
      damage: fc.oneof(
        { weight: 5, arbitrary: fc.constant(undefined) },
        {
          weight: 1,
          arbitrary: fc.record({ at: fc.nat(), insert: fc.string({ unit: 'binary', maxLength: 3 }) }),
        },
      ),
    })
    .map(({ index, mutations, envelope, damage }) => {
      const rec = clone(events[index] as Record<string, unknown>);
      for (const m of mutations) applyMutation(rec, m);
      const value = wrapRecord(rec, envelope);
      let text = JSON.stringify(value);
      if (damage) {
        const at = damage.at % (text.length + 1);
        text = text.slice(0, at) + damage.insert + text.slice(at + (damage.insert ? 0 : 1));
        return { kind: 'corpus-damaged', text };
      }
      return { kind: 'corpus', text, value };
    });
}

/** Arbitrary JSON, as a whole body and as a record's field values. */
export const randomJson: fc.Arbitrary<FuzzCase> = fc
  .tuple(fc.jsonValue({ maxDepth: 5 }), envelopes)
  .map(([v, envelope]) => {
    const value = wrapRecord(v, envelope);
    return { kind: 'json', text: JSON.stringify(value) ?? 'null', value };
  });

/** Any text at all, and any bytes. */
export const randomText: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }).map((text) => ({ kind: 'text', text })),
  fc.uint8Array({ maxLength: 200 }).map((text) => ({ kind: 'bytes', text })),
);

/** Nesting far past the limit (64): arrays, objects, both, inside a record or an envelope; 65–20,000 levels. */
export const deepNesting: fc.Arbitrary<FuzzCase> = fc
  .record({
    depth: fc.integer({ min: 65, max: 20_000 }),
    shape: fc.constantFrom('array', 'object', 'mixed'),
    where: fc.constantFrom('bare', 'requestParameters', 'sns'),
  })
  .map(({ depth, shape, where }) => {
    let open = '';
    let close = '';
    for (let d = 0; d < depth; d++) {
      const obj = shape === 'object' || (shape === 'mixed' && d % 2 === 1);
      open += obj ? '{"a":' : '[';
      close = (obj ? '}' : ']') + close;
    }
    const nested = `${open}1${close}`;
    let text = nested;
    if (where === 'requestParameters')
      text = `{"eventID":"e","eventName":"n","eventSource":"s","eventTime":"t","userIdentity":{},"requestParameters":{"x":${nested}}}`;
    if (where === 'sns') text = JSON.stringify({ Type: 'Notification', Message: nested });
    return { kind: `deep-${shape}-${where}`, text, expect: 'too_deep' as const };
  });

/** Bodies of 1–4 MB (the limit is 1 MiB): one huge field, as text or bytes. */
export const hugeStrings: fc.Arbitrary<FuzzCase> = fc
  .record({
    size: fc.integer({ min: 1024 * 1024 + 1, max: 4 * 1024 * 1024 }),
    bytes: fc.boolean(),
    unit: fc.constantFrom('a', 'é', '€', '𝄞'),
  })
  .map(({ size, bytes, unit }) => {
    const filler = unit.repeat(Math.ceil(size / Buffer.byteLength(unit)));
    const text = `{"eventID":"e","eventName":"n","eventSource":"s","eventTime":"t","userIdentity":{},"userAgent":"${filler}"}`;
    return { kind: 'huge', text: bytes ? Buffer.from(text) : text, expect: 'too_large' as const };
  });

/** Records whose objects carry __proto__ / constructor / prototype keys with hostile values. */
export const protoKeys: fc.Arbitrary<FuzzCase> = fc
  .record({
    where: fc.constantFrom('root', 'userIdentity', 'requestParameters', 'sessionContext', 'envelope'),
    key: fc.constantFrom(...PROTO_KEYS),
    value: fc.oneof(
      fc.constant({ polluted: 'yes', isAdmin: true, eventName: 'Polluted', toString: 'x' }),
      fc.constant({ prototype: { polluted: 'yes' } }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    envelope: envelopes,
  })
  .map(({ where, key, value, envelope }) => {
    const member = `"${key}":${JSON.stringify(value)},`;
    const at = (w: string) => (where === w ? member : '');
    const rec = `{${at('root')}"eventID":"e-${key}","eventName":"CreateUser","eventSource":"iam.amazonaws.com","eventTime":"2024-05-01T12:00:00Z","userIdentity":{${at('userIdentity')}"type":"IAMUser","arn":"arn:aws:iam::1:user/p","userName":"p","sessionContext":{${at('sessionContext')}"attributes":{}}},"requestParameters":{${at('requestParameters')}"userName":"x"}}`;
    // JSON.parse makes __proto__ an own key, as an attacker's message would arrive.
    const wrapped = JSON.stringify(wrapRecord(JSON.parse(rec), envelope));
    const text = where === 'envelope' ? `{${member}${wrapped.slice(1)}` : wrapped;
    return { kind: `proto-${where}`, text, value: JSON.parse(text) };
  });

/** Everything, in proportion: mostly realistic, with every hostile family represented. */
export function allInputs(events: Record<string, unknown>[]): fc.Arbitrary<FuzzCase> {
  return fc.oneof(
    { weight: 40, arbitrary: mutatedCorpus(events) },
    { weight: 25, arbitrary: randomJson },
    { weight: 10, arbitrary: randomText },
    { weight: 12, arbitrary: protoKeys },
    { weight: 8, arbitrary: deepNesting },
    { weight: 1, arbitrary: hugeStrings },
  );
}

/** Own keys of Object.prototype and friends, to prove afterwards that nothing was added. */
export function prototypeSnapshot(): string {
  return JSON.stringify(
    [Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) =>
      Object.getOwnPropertyNames(p).sort(),
    ),
  );
}

/** A failed run, without a multi-megabyte counterexample in the output. */
export function describeFailure(run: fc.RunDetails<[FuzzCase]>): string {
  const c = run.counterexample?.[0];
  const text = c ? (typeof c.text === 'string' ? c.text : Buffer.from(c.text).toString('utf8')) : '';
  const shown = text.length > 600 ? `${text.slice(0, 600)}… (${text.length} characters)` : text;
  const why = run.errorInstance instanceof Error ? run.errorInstance.message : String(run.errorInstance);
  return `failed after ${run.numRuns} inputs (seed ${run.seed}, path ${run.counterexamplePath}): ${why.slice(0, 1_000)}\ninput (${c?.kind}): ${shown}`;
}
