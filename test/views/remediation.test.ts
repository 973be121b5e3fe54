/** The remediation part of the channel alert: buttons, confirm dialogs within Slack's limits, inert values. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RemediationPlan } from '../../remediation/types.js';
import type { AlertItem, AlertRemediation } from '../../store/types.js';
import { alertMessage } from '../../views/alert.js';
import {
  ACTION_REMEDIATE,
  confirmText,
  parseRemediationValue,
  remediationBlocks,
  remediationValue,
} from '../../views/remediation.js';

const evil = '<!channel> *x* <https://evil.example|y> `z`';
const plan: RemediationPlan = {
  kind: 'detach_policy',
  service: 'iam',
  command: 'DetachUserPolicy',
  input: { UserName: evil, PolicyArn: `arn:aws:iam::aws:policy/${'Long'.repeat(80)}` },
  account: '111122223333',
  region: 'us-east-1',
  label: `Detach policy from user ${evil} ${'x'.repeat(100)}`,
  description: `iam:DetachUserPolicy … from user ${evil} in 111122223333/us-east-1`,
};
const rem = (over: Partial<AlertRemediation> = {}): AlertRemediation => ({
  id: 'r1',
  plan,
  status: 'available',
  attempts: 0,
  ...over,
});
const alert = (remediations: AlertRemediation[], over: Partial<AlertItem> = {}): AlertItem => ({
  id: 'a_ev-1',
  kind: 'call',
  severity: 'critical',
  summary: 's',
  eventIds: ['ev-1'],
  ruleIds: ['r'],
  reasons: [],
  page: true,
  state: 'OPEN',
  createdAt: '2026-11-20T10:00:00.000Z',
  updatedAt: '2026-11-20T10:00:00.000Z',
  pageStatus: 'sent',
  pageAttempts: 0,
  channelStatus: 'sent',
  history: [],
  remediations,
  ...over,
});

type Section = { type: string; text?: { text: string }; accessory?: Record<string, any> };
const sections = (blocks: unknown[]) => blocks as Section[];

describe('remediation view', () => {
  it('one button per available remediation, with a confirm naming the exact call, input and account', () => {
    const blocks = sections(remediationBlocks(alert([rem()]), { enabled: true, mode: 'live', duo: true }));
    const withButton = blocks.filter((b) => b.accessory);
    assert.equal(withButton.length, 1);
    const button = withButton[0]?.accessory ?? {};
    assert.equal(button.action_id, ACTION_REMEDIATE);
    assert.equal(button.value, 'a_ev-1:r1');
    assert.ok(button.text.text.length <= 75);
    const confirm = button.confirm;
    assert.ok(confirm.title.text.length <= 100);
    assert.ok(confirm.text.text.length <= 300, `${confirm.text.text.length} characters`);
    assert.ok(confirm.confirm.text.length <= 30 && confirm.deny.text.length <= 30);
    assert.match(confirm.text.text, /`iam:DetachUserPolicy` in account `111122223333` \(`us-east-1`\)/);
    assert.match(confirm.text.text, /Duo push/);
  });

  it('shows CloudTrail values inert everywhere (text, confirm, button)', () => {
    const json = JSON.stringify(
      remediationBlocks(alert([rem()]), { enabled: true, mode: 'live', duo: true }),
    );
    for (const raw of ['<!channel>', '<https://evil.example'])
      assert.ok(!json.includes(raw), `${raw} reached Slack`);
    assert.ok(json.includes('&lt;!channel&gt;'));
  });

  it('no button once running, done or failed, on a resolved alert, or where remediation is not enabled', () => {
    const done = rem({
      status: 'done',
      by: 'U0STAFF',
      finishedAt: '2026-11-20T10:05:00.000Z',
      outcome: 'detached',
    });
    const text = JSON.stringify(remediationBlocks(alert([done]), { enabled: true }));
    assert.match(text, /Done\* by <@U0STAFF> <!date\^/);
    assert.match(text, /detached/);
    for (const [a, enabled] of [
      [alert([rem({ status: 'running', phase: 'duo', by: 'U0STAFF' })]), true],
      [alert([done]), true],
      [alert([rem({ status: 'failed', by: 'U0STAFF', outcome: 'AccessDenied' })]), true],
      [alert([rem()], { state: 'RESOLVED' }), true],
      [alert([rem()]), false],
    ] as const) {
      assert.equal(sections(remediationBlocks(a, { enabled })).filter((b) => b.accessory).length, 0);
    }
  });

  it('keeps the confirm text within 300 characters however long the input', () => {
    const big = { ...plan, input: { X: 'y'.repeat(5000) } };
    assert.ok(confirmText(big, { duo: true, mode: 'shadow' }).length <= 300);
  });

  it('the alert message carries the remediation blocks and lists the remediations it cannot offer', () => {
    const msg = alertMessage({
      alert: alert([rem()], {
        remediationGaps: [{ kind: 'quarantine', eventName: 'ConsoleLogin', reason: 'root' }],
      }),
      remediation: { enabled: true, mode: 'shadow', duo: true },
    });
    const text = JSON.stringify(msg.blocks);
    assert.match(text, /alert_remediate/);
    assert.match(text, /shadow: SECBOT_REMEDIATION_ROLE is not set/);
    assert.match(text, /No one-click remediation for `ConsoleLogin`: `root`/);
    assert.ok(msg.blocks.length <= 50);
  });

  it('button values round-trip and nothing else parses', () => {
    assert.deepEqual(parseRemediationValue(remediationValue('a_v_01J0ABC', 'r3')), {
      alertId: 'a_v_01J0ABC',
      remediationId: 'r3',
    });
    for (const bad of [undefined, '', 'a_x', 'v_1:r1', 'a_x:r', 'a_x:r1:r2', 'a_<x>:r1']) {
      assert.equal(parseRemediationValue(bad), undefined, String(bad));
    }
  });
});
