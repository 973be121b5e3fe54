/**
 * SigmaHQ's own AWS CloudTrail rules (../shared/sigma-aws-cloudtrail, unmodified) load without
 * errors, evaluate every corpus record without throwing, and fire exactly as their detection says.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkRuleDirs } from '../../rules/loader.js';
import { compileRuleFile } from '../../rules/sigma/compiler.js';
import { formatRuleIssue } from '../../rules/types.js';
import { rec } from './sigma/helpers.js';

const SHARED = fileURLToPath(new URL('../../../shared/', import.meta.url));
const RULES_DIR = fileURLToPath(new URL('../../../shared/sigma-aws-cloudtrail/', import.meta.url));
const CORPUS = ['public.jsonl', 'background.jsonl'].map((f) =>
  fileURLToPath(new URL(`../../../shared/corpus/${f}`, import.meta.url)),
);
const present = existsSync(RULES_DIR) && CORPUS.every((f) => existsSync(f));
const skip = present ? false : `../shared not present: SigmaHQ rules and corpus expected at ${SHARED}`;

const ruleFiles = () =>
  readdirSync(RULES_DIR)
    .filter((f) => f.endsWith('.yml'))
    .sort();

function compileShared(name: string) {
  const file = `${RULES_DIR}${name}`;
  const { rule, issues } = compileRuleFile(file, readFileSync(file, 'utf8'));
  assert.deepEqual(issues.filter((i) => i.severity === 'error').map(formatRuleIssue), []);
  assert.ok(rule, name);
  return rule;
}

describe('SigmaHQ AWS CloudTrail rules', { skip }, () => {
  it('all 57 load without error issues', async () => {
    assert.equal(ruleFiles().length, 57);
    const { ruleSet, issues } = await checkRuleDirs([RULES_DIR]);
    assert.deepEqual(issues.filter((i) => i.severity === 'error').map(formatRuleIssue), []);
    assert.equal(ruleSet.rules.length, 57);
  });

  it('evaluate every corpus record without throwing, and the index agrees with full evaluation', async () => {
    const compiled = ruleFiles().map((f) => {
      const file = `${RULES_DIR}${f}`;
      const r = compileRuleFile(file, readFileSync(file, 'utf8'));
      assert.ok(r.evaluate, f);
      return { name: f, evaluate: r.evaluate };
    });
    const { ruleSet } = await checkRuleDirs([RULES_DIR]);
    let records = 0;
    let fired = 0;
    for (const path of CORPUS) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        const { event } = JSON.parse(line) as { event: Record<string, unknown> };
        records++;
        for (const c of compiled) {
          // The raw compiled detection, without Rule.matches' catch-all: a throw fails the test.
          if (c.evaluate(event)) fired++;
        }
        const cands = ruleSet.candidates(event as never);
        for (const rule of ruleSet.rules) {
          if (rule.matches(event as never))
            assert.ok(cands.includes(rule), `${rule.title} missing from candidates`);
        }
      }
    }
    assert.ok(records > 1000, `corpus has ${records} records`);
    assert.ok(fired > 0);
  });

  /** [rule file, [description, record fields, should fire][]] */
  const cases: [string, [string, Record<string, unknown>, boolean][]][] = [
    [
      'aws_root_account_usage.yml',
      [
        ['root calls an API', { userIdentity: { type: 'Root', arn: 'arn:aws:iam::1:root' } }, true],
        [
          'service event on behalf of root',
          { userIdentity: { type: 'Root' }, eventType: 'AwsServiceEvent' },
          false,
        ],
        ['IAM user', { userIdentity: { type: 'IAMUser' } }, false],
      ],
    ],
    [
      'aws_cloudtrail_disable_logging.yml',
      [
        ['StopLogging', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StopLogging' }, true],
        ['DeleteTrail', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'DeleteTrail' }, true],
        ['StartLogging', { eventSource: 'cloudtrail.amazonaws.com', eventName: 'StartLogging' }, false],
        ['same name, other service', { eventSource: 'ec2.amazonaws.com', eventName: 'StopLogging' }, false],
      ],
    ],
    [
      'aws_cloudtrail_console_login_success_without_mfa.yml',
      [
        [
          'success without MFA',
          {
            eventName: 'ConsoleLogin',
            additionalEventData: { MFAUsed: 'No' },
            responseElements: { ConsoleLogin: 'Success' },
          },
          true,
        ],
        [
          'with MFA',
          {
            eventName: 'ConsoleLogin',
            additionalEventData: { MFAUsed: 'Yes' },
            responseElements: { ConsoleLogin: 'Success' },
          },
          false,
        ],
        [
          'failed login',
          {
            eventName: 'ConsoleLogin',
            additionalEventData: { MFAUsed: 'No' },
            responseElements: { ConsoleLogin: 'Failure' },
          },
          false,
        ],
      ],
    ],
    [
      'aws_cloudtrail_imds_malicious_usage.yml',
      [
        [
          'instance credentials used from outside',
          {
            eventSource: 's3.amazonaws.com',
            eventName: 'ListBuckets',
            sourceIPAddress: '203.0.113.9',
            userIdentity: { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc' },
          },
          true,
        ],
        [
          'filtered: AWS Internal',
          {
            eventSource: 's3.amazonaws.com',
            sourceIPAddress: 'AWS Internal',
            userIdentity: { arn: 'arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc' },
          },
          false,
        ],
        [
          'filtered: SSM',
          {
            eventSource: 'ssm.amazonaws.com',
            userIdentity: { arn: 'arn:aws:sts::1:assumed-role/aws:ec2-instance/i-0abc' },
          },
          false,
        ],
        [
          'ordinary role (the regex is case-sensitive)',
          {
            eventSource: 's3.amazonaws.com',
            userIdentity: { arn: 'arn:aws:sts::1:assumed-role/AWS:Admin/alice' },
          },
          false,
        ],
      ],
    ],
    [
      'aws_iam_s3browser_templated_s3_bucket_policy_creation.yml',
      [
        [
          'S3 Browser template policy (contains|all)',
          {
            eventSource: 'iam.amazonaws.com',
            eventName: 'PutUserPolicy',
            userAgent: 'S3 Browser 11.4.5 https://s3browser.com',
            requestParameters: {
              userName: 'backup',
              policyDocument:
                '{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]}]}',
            },
          },
          true,
        ],
        [
          'one of the three strings missing',
          {
            eventSource: 'iam.amazonaws.com',
            eventName: 'PutUserPolicy',
            userAgent: 'S3 Browser 11.4.5',
            requestParameters: {
              policyDocument:
                '{"Statement":[{"Effect":"Allow","Resource":["arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]}]}',
            },
          },
          false,
        ],
      ],
    ],
    [
      'aws_update_login_profile.yml',
      [
        [
          'someone else changes a login profile (fieldref differs)',
          {
            eventSource: 'iam.amazonaws.com',
            eventName: 'UpdateLoginProfile',
            userIdentity: { arn: 'arn:aws:iam::1:user/mallory' },
            requestParameters: { userName: 'alice' },
          },
          true,
        ],
        [
          'the referenced field equals the value (fieldref filter)',
          {
            eventSource: 'iam.amazonaws.com',
            eventName: 'UpdateLoginProfile',
            userIdentity: { arn: 'alice' },
            requestParameters: { userName: 'Alice' },
          },
          false,
        ],
      ],
    ],
    [
      'aws_new_lambda_layer_attached.yml',
      [
        [
          'versioned event name (startswith) with a layer',
          {
            eventSource: 'lambda.amazonaws.com',
            eventName: 'UpdateFunctionConfiguration20150331v2',
            requestParameters: { functionName: 'f', layers: ['arn:aws:lambda:us-east-1:1:layer:evil:1'] },
          },
          true,
        ],
        [
          'no layers',
          {
            eventSource: 'lambda.amazonaws.com',
            eventName: 'UpdateFunctionConfiguration20150331v2',
            requestParameters: { functionName: 'f' },
          },
          false,
        ],
      ],
    ],
    [
      'aws_cloudtrail_bucket_deleted.yml',
      [
        ['successful delete (errorCode absent)', { eventName: 'DeleteBucket' }, true],
        ['errorCode Success', { eventName: 'DeleteBucket', errorCode: 'Success' }, true],
        ['denied', { eventName: 'DeleteBucket', errorCode: 'AccessDenied' }, false],
      ],
    ],
    [
      'aws_disable_bucket_versioning.yml',
      [
        [
          'suspended (contains on an object)',
          {
            eventSource: 's3.amazonaws.com',
            eventName: 'PutBucketVersioning',
            requestParameters: { bucketName: 'b', VersioningConfiguration: { Status: 'Suspended' } },
          },
          true,
        ],
        [
          'enabled',
          {
            eventSource: 's3.amazonaws.com',
            eventName: 'PutBucketVersioning',
            requestParameters: { VersioningConfiguration: { Status: 'Enabled' } },
          },
          false,
        ],
      ],
    ],
    [
      'aws_ecs_task_definition_cred_endpoint_query.yml',
      [
        [
          'command reads the credentials endpoint (arrays along the path)',
          {
            eventSource: 'ecs.amazonaws.com',
            eventName: 'RegisterTaskDefinition',
            requestParameters: {
              containerDefinitions: [
                { name: 'a', command: ['sleep', '1'] },
                {
                  name: 'b',
                  command: ['sh', '-c', 'curl 169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'],
                },
              ],
            },
          },
          true,
        ],
        [
          'ordinary command',
          {
            eventSource: 'ecs.amazonaws.com',
            eventName: 'RegisterTaskDefinition',
            requestParameters: { containerDefinitions: [{ name: 'a', command: ['nginx'] }] },
          },
          false,
        ],
      ],
    ],
    [
      'aws_ec2_vm_export_failure.yml',
      [
        [
          'export succeeded',
          {
            eventSource: 'ec2.amazonaws.com',
            eventName: 'CreateInstanceExportTask',
            responseElements: { exportTask: { state: 'active' } },
          },
          true,
        ],
        [
          'export failed',
          {
            eventSource: 'ec2.amazonaws.com',
            eventName: 'CreateInstanceExportTask',
            errorCode: 'Client.UnsupportedOperation',
            errorMessage: 'no',
          },
          false,
        ],
      ],
    ],
    [
      'aws_susp_saml_activity.yml',
      [
        ['AssumeRoleWithSAML', { eventSource: 'sts.amazonaws.com', eventName: 'AssumeRoleWithSAML' }, true],
        ['UpdateSAMLProvider', { eventSource: 'iam.amazonaws.com', eventName: 'UpdateSAMLProvider' }, true],
        [
          'crossed source and name',
          { eventSource: 'iam.amazonaws.com', eventName: 'AssumeRoleWithSAML' },
          false,
        ],
      ],
    ],
  ];

  for (const [file, checks] of cases) {
    it(`${file} fires as its detection says`, () => {
      const rule = compileShared(file);
      for (const [what, fields, fires] of checks) {
        assert.equal(rule.matches(rec(fields)), fires, `${file}: ${what}`);
      }
    });
  }

  it('the index pins what the rules pin', () => {
    assert.deepEqual(compileShared('aws_cloudtrail_disable_logging.yml').eventNames, [
      'StopLogging',
      'UpdateTrail',
      'DeleteTrail',
    ]);
    assert.deepEqual(compileShared('aws_susp_saml_activity.yml').eventSources, [
      'sts.amazonaws.com',
      'iam.amazonaws.com',
    ]);
    assert.equal(compileShared('aws_root_account_usage.yml').eventNames, undefined);
    assert.equal(compileShared('aws_new_lambda_layer_attached.yml').eventNames, undefined);
  });
});
