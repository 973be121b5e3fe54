/** The store's account activity, lag histograms, rule stages and rule engineer sets (dynalite). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LAG_BUCKETS, lagBucket, lagQuantiles } from '../../handlers/lag.js';
import { RULE_ENGINEERS_CAP } from '../../store/rule-stages.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let dynamo: TestDynamo;
before(async () => {
  dynamo = await startTestDynamo();
});
after(async () => {
  await dynamo?.stop();
});

const A = '111122223333';
const at = (iso: string) => new Date(iso);

describe('account activity', () => {
  it('moves each of last heartbeat and last call forward only', async () => {
    const store = await dynamo.newStore();
    const now = new Date();
    await store.recordAccountActivity(
      A,
      { heartbeatAt: at('2026-11-01T10:05:00Z'), heartbeatRegion: 'us-east-1' },
      now,
    );
    await store.recordAccountActivity(
      A,
      { heartbeatAt: at('2026-11-01T10:00:00Z'), heartbeatRegion: 'eu-west-1' },
      now,
    );
    await store.recordAccountActivity(A, { eventAt: at('2026-11-01T09:00:00Z') }, now);
    await store.recordAccountActivity(A, { eventAt: at('2026-11-01T08:00:00Z') }, now);
    assert.deepEqual(
      (await store.listAccounts()).map((a) => [
        a.account,
        a.lastHeartbeatAt,
        a.lastHeartbeatRegion,
        a.lastEventAt,
      ]),
      [[A, '2026-11-01T10:05:00.000Z', 'us-east-1', '2026-11-01T09:00:00.000Z']],
    );
    await assert.rejects(store.recordAccountActivity('12', { eventAt: now }, now), /12-digit/);
  });

  it('sums lag histograms over days, per account; p50 / p95 are read from the buckets', async () => {
    const store = await dynamo.newStore();
    await store.addAccountLag(A, '2026-11-01', { le_1m: 9, le_5m: 1 });
    await store.addAccountLag(A, '2026-11-02', { le_1m: 9, le_5m: 1 });
    await store.addAccountLag('444455556666', '2026-11-02', { gt_1d: 1 });
    const lag = await store.readAccountLag(['2026-11-02', '2026-11-01', '2026-10-31']);
    assert.deepEqual(lag.get(A), { le_1m: 18, le_5m: 2 });
    const q = lagQuantiles(lag.get(A) ?? {});
    assert.ok(q.p50 && q.p50.ms > 30_000 && q.p50.ms <= 60_000, JSON.stringify(q.p50));
    assert.ok(q.p95 && q.p95.ms > 120_000 && q.p95.ms <= 300_000, JSON.stringify(q.p95));
    assert.deepEqual(lagQuantiles(lag.get('444455556666') ?? {}).p50, {
      ms: 86_400_000,
      atLeast: true,
      samples: 1,
    });
    assert.equal(lagBucket(-5), 'le_30s');
    assert.equal(lagBucket(61_000), 'le_2m');
    assert.equal(lagBucket(Number.NaN), LAG_BUCKETS.at(-1)?.name);
  });
});

describe('rule stages and engineers', () => {
  it('keeps the last override per rule', async () => {
    const store = await dynamo.newStore();
    await store.setRuleStage('r1', { stage: 'live', by: 'U0A', at: new Date() });
    await store.setRuleStage('r1', { stage: 'shadow', by: 'U0B', at: new Date() });
    await store.setRuleStage('r2', { stage: 'live', by: 'U0A', at: new Date() });
    const stages = (await store.listRuleStages()).map((o) => [o.ruleId, o.stage, o.by]);
    assert.deepEqual(stages, [
      ['r1', 'shadow', 'U0B'],
      ['r2', 'live', 'U0A'],
    ]);
  });

  it('counts distinct engineers per rule across days, each day bounded', async () => {
    const store = await dynamo.newStore();
    await store.addRuleEngineers('2026-11-01', 'r1', { asked: ['U1', 'U2'], wouldAsk: ['U3'] });
    await store.addRuleEngineers('2026-11-02', 'r1', { asked: ['U2', 'U4'] });
    await store.addRuleEngineers('2026-11-02', 'r2', { wouldAsk: ['U9'] });
    const e = await store.readRuleEngineers(['2026-11-01', '2026-11-02']);
    assert.deepEqual([...(e.get('r1')?.asked ?? [])].sort(), ['U1', 'U2', 'U4']);
    assert.deepEqual([...(e.get('r1')?.wouldAsk ?? [])], ['U3']);
    assert.deepEqual([...(e.get('r2')?.wouldAsk ?? [])], ['U9']);
    const many = Array.from({ length: RULE_ENGINEERS_CAP }, (_, i) => `U${i}`);
    await store.addRuleEngineers('2026-11-03', 'r3', { asked: many });
    await store.addRuleEngineers('2026-11-03', 'r3', { asked: ['UEXTRA'] });
    const capped = (await store.readRuleEngineers(['2026-11-03'])).get('r3');
    assert.equal(capped?.asked.size, RULE_ENGINEERS_CAP, 'a full set takes no more');
    assert.equal(capped?.capped, true);
  });
});
