/**
 * The remediation press, against dynalite with a scripted Duo and a recording executor: who may run
 * what, when AWS is (not) called, what the alert and the audit trail then say.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { memoryAuditTrail } from '../../audit/trail.js';
import type { Messenger } from '../../handlers/ports.js';
import { type RemediateDeps, remediate } from '../../handlers/remediate.js';
import type { RemediationExecutor, RemediationResult } from '../../integrations/aws-remediation.js';
import type { DuoOutcome, SecondFactor } from '../../integrations/duo.js';
import { silentLogger } from '../../logging/logger.js';
import type { RemediationPlan } from '../../remediation/types.js';
import type { Store } from '../../store/store.js';
import type { AlertItem } from '../../store/types.js';
import { startTestDynamo, type TestDynamo } from '../helpers/dynamo-server.js';

let db: TestDynamo;
let store: Store;
before(async () => {
  db = await startTestDynamo();
  store = await db.newStore();
});
after(async () => {
  await db.stop();
});

const plan: RemediationPlan = {
  kind: 'revoke_security_group_ingress',
  service: 'ec2',
  command: 'RevokeSecurityGroupIngress',
  input: { GroupId: 'sg-1', SecurityGroupRuleIds: ['sgr-1'] },
  account: '111122223333',
  region: 'eu-west-1',
  label: 'Revoke ingress on sg-1',
  description: 'ec2:RevokeSecurityGroupIngress on sg-1 rules sgr-1 in 111122223333/eu-west-1',
};

let n = 0;
async function alertWithPlan(): Promise<AlertItem> {
  const { alert } = await store.createAlert({
    kind: 'call',
    eventId: `ev-${++n}`,
    severity: 'critical',
    summary: 's',
    reasons: [],
    remediations: [plan],
    at: new Date(),
  });
  await store.updateAlert(alert.id, {
    set: { channelMessage: { channel: 'C1', ts: '1.1' } },
    at: new Date(),
  });
  return alert;
}

function duoSaying(outcome: DuoOutcome['result'], pushes: string[]): SecondFactor {
  return {
    check: async () => ({ ok: true, detail: '' }),
    preauth: async () => ({ ok: true, device: 'phone1' }),
    startPush: async (username) => {
      pushes.push(username);
      return { txid: `tx-${pushes.length}` };
    },
    pollPush: async () =>
      outcome === 'allow'
        ? { result: 'allow', status: 'allow' }
        : outcome === 'deny'
          ? { result: 'deny', status: 'deny', reason: 'denied' }
          : { result: 'error', reason: 'Duo down' },
  };
}

function world(
  opts: { duo?: DuoOutcome['result'] | 'none'; result?: RemediationResult; requireDuo?: boolean } = {},
) {
  const executed: RemediationPlan[] = [];
  const posted: AlertItem[] = [];
  const pushes: string[] = [];
  const audit = memoryAuditTrail();
  const executor: RemediationExecutor = {
    mode: 'live',
    execute: async (p) => {
      executed.push(p);
      await new Promise((r) => setTimeout(r, 20));
      return opts.result ?? { ok: true, outcome: 'revoked sgr-1', requestId: 'req-1' };
    },
  };
  const messenger: Messenger = {
    askEngineer: async () => ({ channel: 'D1', ts: '1' }),
    updateQuestion: async () => {},
    postAlert: async (a) => {
      posted.push(a);
      return a.channelMessage;
    },
  } as Messenger;
  const deps: RemediateDeps = {
    store,
    messenger,
    executor,
    requireDuo: opts.requireDuo ?? true,
    duo: opts.duo === 'none' ? undefined : duoSaying(opts.duo ?? 'allow', pushes),
    duoUsername: async (u) => `${u.toLowerCase()}@example.com`,
    duoTimeoutMs: 2_000,
    duoPollIntervalMs: 10,
    audit,
    logger: silentLogger(),
  };
  return { deps, executed, posted, pushes, audit };
}

const actions = (audit: ReturnType<typeof memoryAuditTrail>) =>
  audit.records.map((r) => (r.event as { action: string }).action);

describe('pressing a remediation', () => {
  it('Duo allow: the call runs once; the alert records who, what, when and the outcome; audited', async () => {
    const w = world();
    const a = await alertWithPlan();
    const r = await remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' });
    assert.equal(r.outcome, 'done');
    assert.deepEqual(w.executed, [plan]);
    assert.deepEqual(w.pushes, ['u0staff@example.com']);
    const rem = (await store.getAlert(a.id))?.remediations?.[0];
    assert.equal(rem?.status, 'done');
    assert.equal(rem?.by, 'U0STAFF');
    assert.equal(rem?.outcome, 'revoked sgr-1');
    assert.equal(rem?.requestId, 'req-1');
    assert.ok(rem?.finishedAt);
    assert.deepEqual(actions(w.audit), ['remediation.requested', 'remediation.executed']);
    const executedRecord = w.audit.records[1] as unknown as {
      secbot: Record<string, unknown>;
      user?: { id: string };
    };
    assert.equal(executedRecord.user?.id, 'U0STAFF');
    assert.equal(executedRecord.secbot.call, 'ec2:RevokeSecurityGroupIngress');
    assert.deepEqual(executedRecord.secbot.input, plan.input);
    assert.equal(w.posted.at(-1)?.remediations?.[0]?.status, 'done', 'the channel alert is updated');
  });

  it('Duo denied: AWS is not called; the remediation is available again with the attempt noted', async () => {
    const w = world({ duo: 'deny' });
    const a = await alertWithPlan();
    const r = await remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' });
    assert.equal(r.outcome, 'denied');
    assert.equal(w.executed.length, 0);
    const rem = (await store.getAlert(a.id))?.remediations?.[0];
    assert.equal(rem?.status, 'available');
    assert.match(rem?.lastAttempt?.result ?? '', /Duo: push denied/);
    assert.deepEqual(actions(w.audit), ['remediation.requested', 'remediation.denied']);
  });

  it('Duo down, or Duo required but not configured: AWS is not called (fail closed)', async () => {
    const down = world({ duo: 'error' });
    const a = await alertWithPlan();
    assert.equal(
      (await remediate(down.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'denied',
    );
    const none = world({ duo: 'none' });
    const r = await remediate(none.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' });
    assert.equal(r.outcome, 'refused');
    assert.equal(down.executed.length + none.executed.length, 0);
    assert.deepEqual(actions(none.audit), ['remediation.refused']);
  });

  it('a double press (or two replicas): one claim, one push, one call; the other is told who has it', async () => {
    const w = world();
    const a = await alertWithPlan();
    const results = await Promise.all([
      remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' }),
      remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' }),
    ]);
    assert.deepEqual(results.map((r) => r.outcome).sort(), ['done', 'ignored']);
    assert.equal(w.executed.length, 1);
    assert.equal(w.pushes.length, 1);
    const again = await remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0OTHER' });
    assert.equal(again.outcome, 'ignored');
    assert.match(again.message, /already done/);
    assert.equal(w.executed.length, 1);
  });

  it('a role that cannot be assumed changes nothing and may be pressed again; an AWS failure is final', async () => {
    const notSent = world({ result: { ok: false, sent: false, error: 'cannot assume role' } });
    const a = await alertWithPlan();
    assert.equal(
      (await remediate(notSent.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'failed',
    );
    assert.equal((await store.getAlert(a.id))?.remediations?.[0]?.status, 'available');
    const sent = world({
      result: { ok: false, sent: true, error: 'InvalidGroup.NotFound', requestId: 'req-9' },
    });
    assert.equal(
      (await remediate(sent.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'failed',
    );
    const rem = (await store.getAlert(a.id))?.remediations?.[0];
    assert.deepEqual(
      [rem?.status, rem?.outcome, rem?.requestId],
      ['failed', 'InvalidGroup.NotFound', 'req-9'],
    );
    assert.equal(
      (await remediate(sent.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'ignored',
    );
    assert.equal(sent.executed.length, 1);
  });

  it('without Duo required (SECBOT_REMEDIATION_DUO=false) it runs at once; shadow runs stay available', async () => {
    const w = world({ requireDuo: false, duo: 'none' });
    const a = await alertWithPlan();
    assert.equal(
      (await remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'done',
    );
    assert.equal(w.pushes.length, 0);
    const shadow = world({ result: { ok: true, shadow: true, outcome: 'shadow: would call …' } });
    const b = await alertWithPlan();
    assert.equal(
      (await remediate(shadow.deps, { alertId: b.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'shadow',
    );
    const rem = (await store.getAlert(b.id))?.remediations?.[0];
    assert.equal(rem?.status, 'available');
    assert.match(rem?.lastAttempt?.result ?? '', /shadow/);
  });

  it('refuses on a resolved alert and for a remediation that does not exist', async () => {
    const w = world();
    const a = await alertWithPlan();
    await store.resolveAlert(a.id, 'U0STAFF');
    assert.equal(
      (await remediate(w.deps, { alertId: a.id, remediationId: 'r1', userId: 'U0STAFF' })).outcome,
      'refused',
    );
    assert.equal(
      (await remediate(w.deps, { alertId: a.id, remediationId: 'r9', userId: 'U0STAFF' })).outcome,
      'refused',
    );
    assert.equal(w.executed.length + w.pushes.length, 0);
  });
});
