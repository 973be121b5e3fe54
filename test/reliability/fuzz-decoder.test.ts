/**
 * Fuzzing the decoder (fast-check, 100,000 cases, fixed seed): random JSON, mutated real records from
 * ../shared/corpus, deep nesting (65–20,000 levels), huge bodies (1–4 MB), and __proto__ / constructor /
 * prototype keys. Whatever arrives, decodeMessage and decodeValue return a typed verdict — never a throw,
 * never a hang, never a polluted prototype — and what they accept is a record the rest of secbot can use.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeMessage, decodeValue } from '../../cloudtrail/decode.js';
import { principalOf } from '../../cloudtrail/principal.js';
import type { DecodeResult } from '../../cloudtrail/record.js';
import {
  allInputs,
  CORPUS_PRESENT,
  corpusEvents,
  deepNesting,
  describeFailure,
  FUZZ_RUNS,
  FUZZ_SEED,
  type FuzzCase,
  hugeStrings,
  prototypeSnapshot,
} from './fuzz-inputs.js';

const REASONS = new Set([
  'empty',
  'not_json',
  'too_large',
  'too_deep',
  'not_cloudtrail',
  'missing_field',
  'wrong_type',
]);
const REQUIRED = ['eventID', 'eventName', 'eventSource', 'eventTime'] as const;
const ENVELOPES = new Set(['sns', 'eventbridge', 'record', 'log_file']);

/** The verdict is one of the typed shapes, with bounded details; accepted records are usable. */
function checkVerdict(r: DecodeResult, c: FuzzCase): void {
  assert.equal(typeof r, 'object');
  if (!r.ok) {
    assert.equal(r.ok, false);
    assert.ok(REASONS.has(r.reason), `unknown reason ${r.reason}`);
    assert.equal(typeof r.detail, 'string');
    // A detail goes into a log line: bounded whatever the input.
    assert.ok(r.detail.length <= 1_000, `detail of ${r.detail.length} characters`);
    if (c.expect) assert.equal(r.reason, c.expect, `${c.kind}: ${r.detail}`);
    return;
  }
  assert.equal(c.expect, undefined, `${c.kind} was accepted`);
  assert.ok(ENVELOPES.has(r.envelope));
  assert.ok(Array.isArray(r.records) && Array.isArray(r.invalid));
  for (const rec of r.records) {
    for (const f of REQUIRED) {
      assert.ok(Object.hasOwn(rec, f), `${f} is an own property`);
      assert.equal(typeof rec[f], 'string');
      assert.ok(rec[f].length > 0);
    }
    assert.ok(Object.hasOwn(rec, 'userIdentity'));
    assert.equal(typeof rec.userIdentity, 'object');
    const p = principalOf(rec);
    assert.equal(typeof p.key, 'string');
    assert.equal(typeof p.name, 'string');
    assert.ok(p.key.length > 0 && p.name.length > 0);
  }
  for (const f of r.invalid) {
    assert.ok(REASONS.has(f.reason));
    assert.ok(f.detail.length <= 1_000);
  }
}

describe('decoder fuzzing', () => {
  const events = corpusEvents();

  it(`${FUZZ_RUNS.toLocaleString('en')} generated inputs: a typed verdict every time, no throw, no hang, no pollution${CORPUS_PRESENT ? '' : ' (../shared/corpus absent: mutating built records instead)'}`, {
    timeout: 120_000,
  }, () => {
    const before = prototypeSnapshot();
    const kinds = new Map<string, number>();
    let slowest = { ms: 0, kind: '' };
    const started = performance.now();
    const run = fc.check(
      fc.property(allInputs(events), (c) => {
        const t0 = performance.now();
        let r: DecodeResult;
        try {
          r = decodeMessage(c.text);
        } catch (err) {
          assert.fail(`decodeMessage threw on ${c.kind}: ${(err as Error).message}`);
        }
        checkVerdict(r, c);
        // decodeValue has no size limit (its input is already in memory); otherwise the two agree.
        if (c.value !== undefined && (r.ok || r.reason !== 'too_large')) {
          const v = decodeValue(c.value);
          assert.equal(v.ok, r.ok, `decodeValue and decodeMessage disagree on ${c.kind}`);
          if (v.ok && r.ok) assert.equal(v.records.length, r.records.length);
          if (v.ok) checkVerdict(v, { ...c, expect: undefined });
        }
        const ms = performance.now() - t0;
        if (ms > slowest.ms) slowest = { ms, kind: c.kind };
        kinds.set(c.kind.split('-')[0] as string, (kinds.get(c.kind.split('-')[0] as string) ?? 0) + 1);
      }),
      { numRuns: FUZZ_RUNS, seed: FUZZ_SEED, endOnFailure: true },
    );
    if (run.failed) assert.fail(describeFailure(run));
    const total = performance.now() - started;
    // No hidden hang: the slowest single input stays far from a hang (about 0.1 s unloaded; the bound leaves
    // room for GC pauses on a busy machine).
    assert.ok(slowest.ms < 3_000, `slowest input took ${slowest.ms.toFixed(0)} ms (${slowest.kind})`);
    assert.equal(prototypeSnapshot(), before, 'a prototype gained or lost properties');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    for (const family of ['corpus', 'json', 'text', 'proto', 'deep', 'huge'])
      assert.ok((kinds.get(family) ?? 0) > 0 || FUZZ_RUNS < 1_000, `no ${family} inputs were generated`);
    process.stdout.write(
      `# decoder fuzz: ${FUZZ_RUNS} inputs in ${(total / 1000).toFixed(1)} s (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}); slowest ${slowest.ms.toFixed(1)} ms (${slowest.kind})\n`,
    );
  });

  it('nesting 10,000 levels deep is too_deep, not a stack overflow, in text and as a value', () => {
    const text = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const r = decodeMessage(text);
    assert.equal(r.ok, false);
    assert.equal(!r.ok && r.reason, 'too_deep');
    // A value built by hand (not via JSON.parse), 100,000 levels: the depth walk is iterative.
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { eventID: 'x', nested: deep };
    const v = decodeValue(deep);
    assert.equal(!v.ok && v.reason, 'too_deep');
    const cyclic: Record<string, unknown> = { eventID: 'x' };
    cyclic.self = cyclic;
    const c = decodeValue(cyclic);
    assert.equal(c.ok, false);
  });

  it('bodies over 1 MiB are too_large before any parsing, as text and as bytes', () => {
    fc.assert(
      fc.property(hugeStrings, (c) => {
        const t0 = performance.now();
        const r = decodeMessage(c.text);
        assert.equal(!r.ok && r.reason, 'too_large');
        assert.ok(performance.now() - t0 < 200);
      }),
      { numRuns: 50, seed: FUZZ_SEED },
    );
    fc.assert(
      fc.property(deepNesting, (c) => {
        const r = decodeMessage(c.text);
        assert.equal(!r.ok && r.reason, 'too_deep');
      }),
      { numRuns: 200, seed: FUZZ_SEED },
    );
  });
});
