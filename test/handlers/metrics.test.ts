import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  approximateMedian,
  CONFIRM_TIME_BUCKETS,
  confirmTimeCounter,
  figuresFrom,
  lastDays,
  noisiestRules,
  outcomeCountersByRule,
} from '../../handlers/metrics.js';

describe('time-to-confirm histogram', () => {
  it('puts a confirmation in the first bucket whose bound it does not exceed', () => {
    assert.equal(confirmTimeCounter(0), 'confirm_time.le_30s');
    assert.equal(confirmTimeCounter(30_000), 'confirm_time.le_30s');
    assert.equal(confirmTimeCounter(30_001), 'confirm_time.le_1m');
    assert.equal(confirmTimeCounter(14 * 60_000), 'confirm_time.le_15m');
    assert.equal(confirmTimeCounter(3 * 86_400_000), 'confirm_time.gt_1d');
  });

  it('estimates the median by interpolating inside the middle bucket', () => {
    assert.equal(approximateMedian({}), undefined);
    // 10 in (30s, 1m], 10 in (1m, 2m]: the middle is the boundary, 60 s.
    assert.deepEqual(approximateMedian({ 'confirm_time.le_1m': 10, 'confirm_time.le_2m': 10 }), {
      ms: 60_000,
      atLeast: false,
      samples: 20,
    });
    // All 4 in (2m, 5m]: the middle is half-way, 3.5 min.
    assert.equal(approximateMedian({ 'confirm_time.le_5m': 4 })?.ms, 210_000);
    assert.deepEqual(approximateMedian({ 'confirm_time.gt_1d': 3, 'confirm_time.le_30s': 1 }), {
      ms: 86_400_000,
      atLeast: true,
      samples: 4,
    });
  });

  it('is within one bucket of the true median of real samples', () => {
    const samples = [12_000, 45_000, 50_000, 70_000, 80_000, 95_000, 130_000, 200_000, 700_000];
    const counts: Record<string, number> = {};
    for (const s of samples) counts[confirmTimeCounter(s)] = (counts[confirmTimeCounter(s)] ?? 0) + 1;
    const est = approximateMedian(counts)?.ms ?? 0;
    const truth = 80_000;
    const bucket = CONFIRM_TIME_BUCKETS.find((b) => truth <= b.upToMs);
    assert.ok(est > 60_000 && est <= (bucket?.upToMs ?? 0), `estimate ${est} in the bucket of ${truth}`);
  });
});

describe('figures and noisy rules from counters', () => {
  it('counts each call of a verification once for each of its rules', () => {
    assert.deepEqual(
      outcomeCountersByRule('confirmed', [{ ruleIds: ['a', 'b'] }, { ruleIds: ['a', 'a'] }, { ruleIds: [] }]),
      { 'rule.a.confirmed': 2, 'rule.b.confirmed': 1 },
    );
  });

  it('reads the figures, including escalations by why and unattributed calls', () => {
    const f = figuresFrom({
      'decided.log': 5,
      'decided.notify': 3,
      'verification.sent': 2,
      'verification.confirmed': 1,
      'verification.escalated': 1,
      'verification.escalated.duo_denied': 1,
      'escalation.unattributed': 2,
      'page.sent': 3,
    });
    assert.deepEqual(f.decided, { log: 5, notify: 3, alert: 0 });
    assert.deepEqual(f.verifications, { opened: 0, sent: 2, confirmed: 1, escalated: 1 });
    assert.deepEqual(f.escalations, { duo_denied: 1, unattributed: 2 });
    assert.equal(f.pagesSent, 3);
  });

  it('ranks rules by notify count, with their confirmed share and the log candidates', () => {
    const rules = noisiestRules({
      'rule.quiet.notify': 1,
      'rule.sigma.v2.rule.notify': 50, // rule ids may contain dots
      'rule.sigma.v2.rule.confirmed': 48,
      'rule.sigma.v2.rule.escalated': 1,
      'rule.risky.notify': 20,
      'rule.risky.confirmed': 5,
      'rule.risky.escalated': 5,
      'rule.alerting.alert': 9,
    });
    assert.deepEqual(
      rules.map((r) => [r.ruleId, r.notify, r.candidateForLog]),
      [
        ['sigma.v2.rule', 50, true],
        ['risky', 20, false],
        ['quiet', 1, false],
      ],
    );
    assert.equal(rules[1]?.confirmedShare, 0.5);
    assert.equal(rules[2]?.confirmedShare, undefined);
  });

  it('lastDays lists UTC days newest first', () => {
    assert.deepEqual(lastDays(new Date('2026-03-01T00:30:00Z'), 3), [
      '2026-03-01',
      '2026-02-28',
      '2026-02-27',
    ]);
  });
});
