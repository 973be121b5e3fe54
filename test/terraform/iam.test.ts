import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { blocks, type Json, loadModule, REPO, ref } from './hcl.js';

/**
 * AWS calls the code makes that the runtime policy deliberately does not allow, and why. Each must
 * still be called somewhere (else it is stale here); everything else the code calls must be allowed.
 * terraform/modules/hub/iam.tf says the same in its header comment.
 */
const NOT_IN_RUNTIME_POLICY: Record<string, string> = {
  'sqs:CreateQueue':
    'ensureQueue creates a missing queue: the embedded queue only; Terraform makes the real one',
  'sqs:SendMessage':
    'secbot enqueue (an operator tool, own credentials) and the embedded seed; the bot never sends',
  'dynamodb:CreateTable':
    'ensureTable creates a missing table; in production Terraform makes it and a missing one must fail',
  'dynamodb:UpdateTimeToLive': 'called only right after ensureTable created the table',
};

/**
 * The clients secbot calls with its own credentials. The remediation clients (IAM, EC2, S3, CloudTrail)
 * run with the credentials of the role secbot assumes in a workload account; that role's permissions are
 * checked where it is defined, not here.
 */
const OWN_CREDENTIAL_CLIENTS = new Set(['sqs', 'dynamodb', 'sts']);

/** SQS authorises batch calls by the single-message action; other commands map by name. */
const ACTION_OF: Record<string, string> = {
  'sqs:SendMessageBatch': 'sqs:SendMessage',
  'sqs:DeleteMessageBatch': 'sqs:DeleteMessage',
  'sqs:ChangeMessageVisibilityBatch': 'sqs:ChangeMessageVisibility',
};

/** The product code: what tsconfig.build.json compiles into dist/. */
function productFiles(): string[] {
  const { include } = JSON.parse(readFileSync(join(REPO, 'tsconfig.build.json'), 'utf8')) as {
    include: string[];
  };
  const walk = (p: string): string[] =>
    statSync(p).isDirectory()
      ? readdirSync(p).flatMap((e) => walk(join(p, e)))
      : p.endsWith('.ts') && !p.endsWith('.d.ts')
        ? [p]
        : [];
  return include.flatMap((i) => walk(join(REPO, i)));
}

/** Every IAM action the product code calls through an AWS SDK v3 client, with the files that call it. */
function actionsInCode(): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const importRe = /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g;
  for (const file of productFiles()) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(importRe)) {
      const service = m[2] ?? '';
      if (!OWN_CREDENTIAL_CLIENTS.has(service)) continue;
      for (const spec of (m[1] ?? '').split(',')) {
        const parts = spec.trim().split(/\s+as\s+/);
        const imported = parts[0]?.trim() ?? '';
        const local = (parts[1] ?? imported).trim();
        if (imported.startsWith('type ') || !imported.endsWith('Command')) continue;
        if (!new RegExp(`new\\s+${local}\\s*\\(`).test(text)) continue;
        const raw = `${service}:${imported.replace(/Command$/, '')}`;
        const action = ACTION_OF[raw] ?? raw;
        const files = found.get(action) ?? new Set<string>();
        files.add(relative(REPO, file));
        found.set(action, files);
      }
    }
  }
  return found;
}

const hub = await loadModule('terraform/modules/hub');
const doc = hub.data('aws_iam_policy_document', 'secbot');
const statements = blocks(doc, 'statement');
const dynamicStatements = blocks(doc?.dynamic as Json, 'statement').flatMap((d) => blocks(d, 'content'));
const all = [...statements, ...dynamicStatements];
const actionsOf = (sts: Json[]) => new Set(sts.flatMap((s) => (s.actions as string[] | undefined) ?? []));

describe("secbot's IAM policy (terraform/modules/hub/iam.tf)", () => {
  const code = actionsInCode();

  it('finds the calls it checks (the scan works)', () => {
    for (const a of ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'dynamodb:UpdateItem', 'dynamodb:Query']) {
      assert.ok(code.has(a), `${a} not found in the code`);
    }
  });

  it('allows every AWS action the code calls and no more, apart from the documented exclusions', () => {
    const expected = [...code.keys()].filter((a) => !(a in NOT_IN_RUNTIME_POLICY)).sort();
    const granted = [...actionsOf(all)].filter((a) => !a.startsWith('kms:')).sort();
    const where = (a: string) => `${a} (${[...(code.get(a) ?? [])].join(', ')})`;
    const missing = expected.filter((a) => !granted.includes(a));
    const extra = granted.filter((a) => !code.has(a));
    assert.deepEqual(
      missing.map(where),
      [],
      'the code calls these, the policy does not allow them: add them to iam.tf',
    );
    assert.deepEqual(
      extra,
      [],
      'the policy allows these, the code never calls them: remove them from iam.tf',
    );
    for (const a of Object.keys(NOT_IN_RUNTIME_POLICY)) {
      assert.ok(
        code.has(a),
        `${a} is listed as excluded but the code no longer calls it: drop it from the list`,
      );
      assert.ok(!granted.includes(a), `${a} is excluded but granted`);
    }
  });

  it('adds only kms:Decrypt on the given key, and only with a customer managed key', () => {
    const kms = blocks(doc?.dynamic as Json, 'statement').filter((d) =>
      blocks(d, 'content').some((c) => (c.actions as string[]).some((a) => a.startsWith('kms:'))),
    );
    assert.equal(kms.length, 1);
    assert.match(String(kms[0]?.for_each), /customer_key/);
    const content = blocks(kms[0], 'content')[0];
    assert.deepEqual(content?.actions, ['kms:Decrypt']);
    assert.deepEqual(content?.resources, [ref('var.kms_key_arn')]);
  });

  it('assumes only the named remediation role, only in the organization, only when remediation is on', () => {
    const sts = blocks(doc?.dynamic as Json, 'statement').find((d) =>
      blocks(d, 'content').some((c) => (c.actions as string[]).includes('sts:AssumeRole')),
    );
    assert.ok(sts, 'no sts:AssumeRole statement');
    assert.match(String(sts.for_each), /var\.remediation_role_name != null/);
    const content = blocks(sts, 'content')[0];
    assert.match(String(content?.resources), /:iam::\*:role\/\$\{var\.remediation_role_name\}/);
    assert.deepEqual(blocks(content, 'condition')[0], {
      test: 'StringEquals',
      variable: 'aws:ResourceOrgID',
      values: [ref('var.organization_id')],
    });
  });

  it("grants on the hub's queue, dead-letter queue and table only, and consumes from the queue only", () => {
    const queue = ref('aws_sqs_queue.events.arn');
    const deadLetter = ref('aws_sqs_queue.dead_letter.arn');
    const table = ref('aws_dynamodb_table.secbot.arn');
    for (const s of all) {
      const resources = (s.resources as string[] | undefined) ?? [];
      assert.ok(resources.length > 0, `${s.sid} names its resources`);
      assert.ok(!resources.includes('*'), `${s.sid} grants on *`);
      const actions = (s.actions as string[] | undefined) ?? [];
      for (const r of resources) {
        if (actions.some((a) => a.startsWith('sqs:')))
          assert.ok([queue, deadLetter].includes(r), `${s.sid}: ${r}`);
        if (actions.some((a) => a.startsWith('sts:')))
          assert.match(r, /:role\/\$\{var\.remediation_role_name\}$/);
        if (actions.some((a) => a.startsWith('dynamodb:')))
          assert.ok([table, `${table}/index/*`].includes(r), `${s.sid}: ${r}`);
      }
      const consumes = actions.some((a) => ['sqs:ReceiveMessage', 'sqs:DeleteMessage'].includes(a));
      if (consumes) assert.deepEqual(resources, [queue], `${s.sid} consumes only the events queue`);
    }
    const indexGrants = all.filter((s) =>
      ((s.resources as string[]) ?? []).some((r) => r.endsWith('/index/*')),
    );
    assert.deepEqual([...actionsOf(indexGrants)], ['dynamodb:Query'], 'only Query reads the index');
  });
});
