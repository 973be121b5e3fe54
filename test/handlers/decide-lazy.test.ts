/**
 * What decide() works out later than the policy (issue 7): a match's reason and the decision's reasons
 * (rendered on first read), its principal (finished from the caller the policy judged), and CloudTrail
 * times read without Date.parse. Each must equal what the eager path gave.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateRecords, loadCorpus } from '../../bench/inputs.js';
import { principalOf } from '../../cloudtrail/principal.js';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { cloudTrailTimeMs, decide, defaultDecideContext } from '../../handlers/decide.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../../rules/loader.js';
import { renderReason } from '../../rules/reason.js';
import type { Rule } from '../../rules/types.js';

const ANCHOR = Date.parse('2025-06-02T12:00:00Z');
const corpus = loadCorpus();
const records = [...corpus.records, ...generateRecords(corpus, 3_000, { seed: 23, anchorMs: ANCHOR })];

/** A rule's reason as decide() used to render it at once. */
const reasonOf = (rule: Rule, record: CloudTrailRecord) =>
  rule.reason ? renderReason(rule.reason, record) : `${record.eventName}: ${rule.title}`;

describe('decide: what is worked out on first read', () => {
  it('reasons, matches (as JSON too) and the principal are those of the eager path', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const byId = new Map(ruleSet.rules.map((r) => [r.id, r]));
    const policy = { automation: ['arn:aws:sts::*:assumed-role/AWSReservedSSO_PowerUser*/*'] };
    const ctx = defaultDecideContext({ now: new Date(ANCHOR + 60_000), policy });
    let matched = 0;
    for (const record of records) {
      const d = decide(record, ruleSet, ctx);
      if (d.matches.length > 0) matched++;
      const expected = d.matches.map((m) => reasonOf(byId.get(m.ruleId) as Rule, record));
      assert.deepEqual(
        d.matches.map((m) => m.reason),
        expected,
      );
      assert.deepEqual(d.reasons, [...expected, ...d.adjustments.map((a) => a.reason)]);
      for (const m of d.matches) {
        const rule = byId.get(m.ruleId) as Rule;
        // The same fields, in the same order, as the plain object decide() used to make.
        assert.equal(
          JSON.stringify(m),
          JSON.stringify({
            ruleId: rule.id,
            title: rule.title,
            action: m.action,
            level: rule.level,
            reason: reasonOf(rule, record),
            runbook: rule.runbook,
          }),
        );
      }
      assert.deepEqual(d.principal, principalOf(record, ctx.policy));
    }
    assert.ok(matched > 300, `${matched} matched`);
  });

  it('the reasons are those of the decision as made: later changes to its adjustments do not add any', async () => {
    const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
    const ctx = defaultDecideContext({ now: new Date(ANCHOR + 60_000) });
    const record = records.find((r) => decide(r, ruleSet, ctx).matches.length > 0) as CloudTrailRecord;
    const d = decide(record, ruleSet, ctx);
    const before = d.matches.map((m) => m.reason);
    d.adjustments.push({ kind: 'unattributable', from: 'notify', to: 'alert', reason: 'later' });
    d.matches.push({ ...d.matches[0], ruleId: 'x', title: 'x', action: 'log', reason: 'pushed' } as never);
    assert.deepEqual(d.reasons.slice(0, before.length), before);
    assert.equal(d.reasons.includes('later'), false);
    assert.equal(d.reasons.includes('pushed'), false);
    d.reasons.push('added');
    assert.equal(d.reasons.at(-1), 'added');
    // A match's reason can be set, as a plain object's could.
    (d.matches[0] as { reason: string }).reason = 'set';
    assert.equal(d.matches[0]?.reason, 'set');
  });
});

describe('cloudTrailTimeMs', () => {
  it('gives what Date.parse gives for CloudTrail times, every field at and past its bounds', () => {
    const two = (n: number) => String(n).padStart(2, '0');
    let checked = 0;
    for (const year of ['0999', '1000', '1970', '2024', '2025', '2100', '9999']) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          for (const [h, m, s] of [
            [0, 0, 0],
            [23, 59, 59],
            [24, 0, 0],
            [12, 60, 0],
            [12, 0, 60],
          ] as const) {
            const t = `${year}-${two(month)}-${two(day)}T${two(h)}:${two(m)}:${two(s)}Z`;
            const fast = cloudTrailTimeMs(t);
            if (!Number.isNaN(fast)) {
              assert.equal(fast, Date.parse(t), t);
              checked++;
            }
          }
        }
      }
    }
    assert.ok(checked > 1_000);
  });

  it('reads nothing else (the general parse does), and agrees on the corpus', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('2', '0', '1', '-', ':', 'T', 'Z', ' ', '9', '.'), maxLength: 24 }),
        (t) => {
          const fast = cloudTrailTimeMs(t);
          return Number.isNaN(fast) || fast === Date.parse(t);
        },
      ),
      { numRuns: 5_000, seed: 2 },
    );
    for (const t of ['2025-06-02T11:59:00.123Z', '2025-06-02 11:59:00', '2025-06-02T11:59:00+02:00', '']) {
      assert.ok(Number.isNaN(cloudTrailTimeMs(t)), t);
    }
    for (const r of corpus.records) {
      const fast = cloudTrailTimeMs(r.eventTime);
      assert.ok(Number.isNaN(fast) || fast === Date.parse(r.eventTime), r.eventTime);
    }
  });
});
