/**
 * terraform/modules/remediation-role against the code: the role allows exactly the IAM actions of
 * the commands the executor can send, trusts only secbot's role, and can take access away only.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the expected values are Terraform expressions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SDK_COMMANDS } from '../../integrations/aws-remediation.js';
import { REMEDIATION_COMMANDS } from '../../remediation/types.js';
import { blocks, type Json, loadModule } from './hcl.js';

const mod = await loadModule('terraform/modules/remediation-role');
const policy = mod.data('aws_iam_policy_document', 'remediation');
const statements = blocks(policy, 'statement');
const allows = statements.filter((s) => (s.effect ?? 'Allow') === 'Allow');
const denies = statements.filter((s) => s.effect === 'Deny');
const actionsOf = (sts: Json[]) => sts.flatMap((s) => (s.actions as string[] | undefined) ?? []);

describe('the remediation role module (terraform/modules/remediation-role)', () => {
  it('allows exactly the actions of the commands the executor can send, each once', () => {
    const fromCode = Object.keys(SDK_COMMANDS)
      .map((k) => REMEDIATION_COMMANDS[k as keyof typeof REMEDIATION_COMMANDS].iamAction)
      .sort();
    const granted = actionsOf(allows);
    assert.deepEqual([...granted].sort(), fromCode);
    assert.equal(new Set(granted).size, granted.length, 'no action granted twice');
  });

  it('trusts only secbot’s role, for sts:AssumeRole only', () => {
    const trust = blocks(mod.data('aws_iam_policy_document', 'trust'), 'statement');
    assert.equal(trust.length, 1);
    assert.deepEqual(trust[0]?.actions, ['sts:AssumeRole']);
    assert.deepEqual(blocks(trust[0], 'principals'), [
      { type: 'AWS', identifiers: ['${var.secbot_role_arn}'] },
    ]);
    const role = mod.resource('aws_iam_role', 'remediation');
    assert.equal(role?.assume_role_policy, '${data.aws_iam_policy_document.trust.json}');
    assert.equal(role?.name, '${var.name}');
    assert.equal(mod.variable('name')?.default, 'secbot-remediation');
    assert.equal(mod.variable('secbot_role_arn')?.default, undefined, 'no default: it must be given');
  });

  it('cannot grant: attaching is limited to AWSDenyAll, and no action writes or creates policies or roles', () => {
    const attach = allows.filter((s) => actionsOf([s]).some((a) => a.startsWith('iam:Attach')));
    assert.equal(attach.length, 1);
    assert.deepEqual(actionsOf(attach).sort(), ['iam:AttachRolePolicy', 'iam:AttachUserPolicy']);
    assert.deepEqual(blocks(attach[0], 'condition'), [
      { test: 'ArnEquals', variable: 'iam:PolicyARN', values: ['${local.arn}:iam::aws:policy/AWSDenyAll'] },
    ]);
    for (const a of actionsOf(allows)) {
      assert.ok(!/^iam:(Put|Create|Pass|Update(?!AccessKey)|Add|Tag|Set)/.test(a), `${a} could grant access`);
      assert.ok(!a.includes('*'), `${a} is a wildcard`);
    }
  });

  it('names its resources in its own account; "*" only where IAM allows nothing else', () => {
    for (const s of allows) {
      const resources = (s.resources as string[] | undefined) ?? [];
      assert.ok(resources.length > 0, `${s.sid} names its resources`);
      if (resources.includes('*'))
        assert.deepEqual(s.actions, ['s3:PutAccountPublicAccessBlock'], `${s.sid}`);
      for (const r of resources.filter((x) => x.startsWith('${local.arn}:') && !x.includes(':s3:::'))) {
        assert.match(r, /\$\{local\.account\}/, `${s.sid}: ${r} is in this account`);
      }
    }
  });

  it('never changes itself or the protected roles', () => {
    assert.equal(denies.length, 1);
    assert.equal(denies[0]?.resources, '${concat([aws_iam_role.remediation.arn], var.protected_role_arns)}');
    assert.deepEqual(
      actionsOf(denies).sort(),
      actionsOf(allows)
        .filter((a) => /^iam:(Attach|Detach|Delete)RolePolicy$/.test(a))
        .sort(),
    );
    assert.equal(
      mod.resource('aws_iam_role_policy', 'remediation')?.policy,
      '${data.aws_iam_policy_document.remediation.json}',
    );
  });
});
