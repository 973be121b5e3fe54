import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { decodeMessage } from '../../cloudtrail/decode.js';
import { toEventBridgeEvent } from '../../integrations/enqueue.js';
import { buildEventBridgePattern, matchesPattern } from '../../rules/eventbridge.js';
import {
  EVENT_PATTERN_MAX_CHARS,
  eventPatternLength,
  splitEventPattern,
} from '../../rules/eventbridge-split.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../../rules/loader.js';
import { completeRecord } from '../../rules/testing.js';

const CORPUS = fileURLToPath(new URL('../../../shared/corpus/', import.meta.url));
const DETAIL_TYPES = ['AWS API Call via CloudTrail'];

/** Events to compare patterns on: every bundled rule's test records, and the shared corpus when present. */
async function sampleEvents(): Promise<unknown[]> {
  const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
  const events: unknown[] = ruleSet.rules.flatMap((r) =>
    r.tests.map((t) => toEventBridgeEvent(completeRecord(t.record))),
  );
  for (const file of ['public.jsonl', 'background.jsonl']) {
    const path = `${CORPUS}${file}`;
    if (!existsSync(path)) continue;
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      const decoded = decodeMessage(JSON.stringify((JSON.parse(line) as { event: unknown }).event));
      if (decoded.ok) events.push(...decoded.records.map(toEventBridgeEvent));
    }
  }
  return events;
}

describe('splitEventPattern', () => {
  it('returns a pattern that fits unchanged, alone', () => {
    const p = { 'detail-type': DETAIL_TYPES, detail: { eventName: ['CreateUser'] } };
    assert.deepEqual(splitEventPattern(p, 2048), [p]);
  });

  it('packs $or branches in order into patterns that each fit, keeping detail-type and dropping source', () => {
    const branches = Array.from({ length: 12 }, (_, i) => ({
      eventSource: [`svc${i}.amazonaws.com`],
      eventName: [`Action${i}A`, `Action${i}B`],
    }));
    const p = { 'detail-type': DETAIL_TYPES, source: ['aws.svc0'], detail: { $or: branches } };
    const parts = splitEventPattern(p, 400);
    assert.ok(parts.length > 1);
    for (const part of parts) {
      assert.ok(eventPatternLength(part) <= 400, `${eventPatternLength(part)} > 400`);
      assert.deepEqual(part['detail-type'], DETAIL_TYPES);
      assert.equal(part.source, undefined);
    }
    const flattened = parts.flatMap((part) => {
      const d = part.detail as Record<string, unknown>;
      return (d.$or as unknown[] | undefined) ?? [d];
    });
    assert.deepEqual(flattened, branches, 'every branch once, in order');
  });

  it('cuts a branch that is too long on its own along its longest list', () => {
    const names = Array.from({ length: 60 }, (_, i) => `SomeRatherLongEventName${i}`);
    const p = {
      'detail-type': DETAIL_TYPES,
      detail: { eventSource: ['iam.amazonaws.com'], eventName: names },
    };
    const parts = splitEventPattern(p, 500);
    assert.ok(parts.length >= 4);
    const got = parts.flatMap((part) => {
      const d = part.detail as Record<string, unknown>;
      assert.deepEqual(d.eventSource, ['iam.amazonaws.com']);
      return d.eventName as string[];
    });
    assert.deepEqual(got, names);
  });

  it('refuses a branch it cannot cut, and a limit that is not a positive integer', () => {
    const p = { detail: { userAgent: [{ wildcard: `*${'x'.repeat(300)}*` }] } };
    assert.throws(() => splitEventPattern(p, 100), /too long for one rule/);
    assert.throws(() => splitEventPattern(p, 0), RangeError);
  });

  it("counts the characters Terraform's jsonencode escapes as six", () => {
    assert.equal(eventPatternLength({ a: ['<&>'] }), JSON.stringify({ a: ['<&>'] }).length + 15);
  });

  it('splits the bundled pattern into rules that fit and deliver exactly what the whole pattern delivers', async () => {
    const { pattern } = buildEventBridgePattern(await loadRuleDirs([BUNDLED_RULES_DIR]));
    const parts = splitEventPattern(pattern, EVENT_PATTERN_MAX_CHARS);
    for (const part of parts) assert.ok(eventPatternLength(part) <= EVENT_PATTERN_MAX_CHARS);
    const events = await sampleEvents();
    let delivered = 0;
    const differ: string[] = [];
    for (const e of events) {
      const whole = matchesPattern(pattern, e);
      const split = parts.some((part) => matchesPattern(part, e));
      if (whole) delivered++;
      if (whole !== split) {
        const d = (e as { detail: { eventSource?: string; eventName?: string } }).detail;
        differ.push(`${d.eventSource} ${d.eventName}: whole ${whole}, split ${split}`);
      }
    }
    assert.deepEqual(differ, []);
    assert.ok(delivered > 100, `only ${delivered} sample events delivered`);
  });
});
