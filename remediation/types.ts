/**
 * One-click remediation, as data: the kinds a rule may name, the AWS calls a plan can make, and the
 * plan itself. Plans are plain JSON so they can be stored on an alert, shown in a confirm dialog,
 * printed in shadow mode and audited exactly as they will be sent.
 */
import type { Json } from '../cloudtrail/record.js';

/**
 * The remediations a rule may name in `secbot.remediation`, each with the CloudTrail calls it undoes.
 * Quarantine of the principal is not named by rules: it is offered on every alert whose principal
 * IAM can restrict (see quarantine.ts).
 */
export const RULE_REMEDIATIONS = {
  /** AuthorizeSecurityGroupIngress → RevokeSecurityGroupIngress of exactly the rules it added. */
  revoke_security_group_ingress: ['AuthorizeSecurityGroupIngress'],
  /** CreateAccessKey → UpdateAccessKey Status=Inactive for that key. */
  deactivate_access_key: ['CreateAccessKey'],
  /** CreateLoginProfile → DeleteLoginProfile (the console password). */
  delete_login_profile: ['CreateLoginProfile'],
  /** Attach{User,Role,Group}Policy → Detach…Policy of exactly that policy ARN. */
  detach_policy: ['AttachUserPolicy', 'AttachRolePolicy', 'AttachGroupPolicy'],
  /** Put{User,Role,Group}Policy → Delete…Policy of exactly that inline policy. */
  delete_inline_policy: ['PutUserPolicy', 'PutRolePolicy', 'PutGroupPolicy'],
  /** StopLogging → StartLogging on that trail (StopEventDataStoreIngestion → Start…). */
  start_logging: ['StopLogging', 'StopEventDataStoreIngestion'],
  /** Public access block removed or weakened, or a public bucket policy → all four settings on. */
  restore_public_access_block: [
    'DeleteBucketPublicAccessBlock',
    'PutBucketPublicAccessBlock',
    'DeleteAccountPublicAccessBlock',
    'PutAccountPublicAccessBlock',
    'PutBucketPolicy',
  ],
} as const satisfies Record<string, readonly string[]>;

export type RuleRemediationKind = keyof typeof RULE_REMEDIATIONS;
export const RULE_REMEDIATION_KINDS = Object.keys(RULE_REMEDIATIONS) as RuleRemediationKind[];
export type RemediationKind = RuleRemediationKind | 'quarantine';

export const isRuleRemediationKind = (s: unknown): s is RuleRemediationKind =>
  typeof s === 'string' && Object.hasOwn(RULE_REMEDIATIONS, s);

export type RemediationService = 'ec2' | 'iam' | 'cloudtrail' | 's3' | 's3control';

/**
 * Every AWS call a plan can make, keyed `service:Command`, with the IAM action that authorises it.
 * The executor sends exactly these, and terraform/modules/remediation-role grants exactly these
 * actions (test/terraform/remediation-role.test.ts checks both).
 */
export const REMEDIATION_COMMANDS = {
  'ec2:RevokeSecurityGroupIngress': { iamAction: 'ec2:RevokeSecurityGroupIngress' },
  'iam:UpdateAccessKey': { iamAction: 'iam:UpdateAccessKey' },
  'iam:DeleteLoginProfile': { iamAction: 'iam:DeleteLoginProfile' },
  'iam:DetachUserPolicy': { iamAction: 'iam:DetachUserPolicy' },
  'iam:DetachRolePolicy': { iamAction: 'iam:DetachRolePolicy' },
  'iam:DetachGroupPolicy': { iamAction: 'iam:DetachGroupPolicy' },
  'iam:DeleteUserPolicy': { iamAction: 'iam:DeleteUserPolicy' },
  'iam:DeleteRolePolicy': { iamAction: 'iam:DeleteRolePolicy' },
  'iam:DeleteGroupPolicy': { iamAction: 'iam:DeleteGroupPolicy' },
  'iam:AttachUserPolicy': { iamAction: 'iam:AttachUserPolicy' },
  'iam:AttachRolePolicy': { iamAction: 'iam:AttachRolePolicy' },
  'cloudtrail:StartLogging': { iamAction: 'cloudtrail:StartLogging' },
  'cloudtrail:StartEventDataStoreIngestion': { iamAction: 'cloudtrail:StartEventDataStoreIngestion' },
  's3:PutPublicAccessBlock': { iamAction: 's3:PutBucketPublicAccessBlock' },
  's3control:PutPublicAccessBlock': { iamAction: 's3:PutAccountPublicAccessBlock' },
} as const satisfies Record<string, { iamAction: string }>;

export type RemediationCommand = keyof typeof REMEDIATION_COMMANDS;

/** The AWS managed policy quarantine attaches: `Deny *` on `*`. */
export const DENY_ALL_POLICY = 'AWSDenyAll';

/**
 * One remediation: a single AWS call, in one account and region, and the words that describe it.
 *
 * @example
 * {
 *   kind: 'revoke_security_group_ingress', service: 'ec2', command: 'RevokeSecurityGroupIngress',
 *   input: { GroupId: 'sg-0d92…', SecurityGroupRuleIds: ['sgr-0a1b…'] },
 *   account: '111122223333', region: 'eu-west-1', eventId: '…', eventName: 'AuthorizeSecurityGroupIngress',
 *   label: 'Revoke ingress on sg-0d92…',
 *   description: 'ec2:RevokeSecurityGroupIngress on sg-0d92… rules sgr-0a1b… in 111122223333/eu-west-1',
 * }
 */
export interface RemediationPlan {
  kind: RemediationKind;
  service: RemediationService;
  /** The SDK command's name without `Command` (the API operation). */
  command: string;
  /** The command's input, exactly as it is sent. */
  input: { [key: string]: Json };
  /** The account the call is made in (where secbot assumes its remediation role). */
  account: string;
  region: string;
  /** The CloudTrail call this plan undoes (absent for quarantine). */
  eventId?: string;
  eventName?: string;
  /** Short words for a button ("Revoke ingress on sg-…"); carries CloudTrail values, escape before use. */
  label: string;
  /** One line: the call, what it acts on, and where. Carries CloudTrail values. */
  description: string;
}

/** A remediation a rule names that this record cannot support, and why. */
export interface RemediationGap {
  kind: RemediationKind;
  eventId?: string;
  eventName?: string;
  reason: string;
}

export type PlanResult = { ok: true; plan: RemediationPlan } | { ok: false; reason: string };

/** `service:Command` of a plan, the key into {@link REMEDIATION_COMMANDS}. */
export function commandKey(plan: Pick<RemediationPlan, 'service' | 'command'>): string {
  return `${plan.service}:${plan.command}`;
}

export function isKnownCommand(key: string): key is RemediationCommand {
  return Object.hasOwn(REMEDIATION_COMMANDS, key);
}

/** A stable identity for de-duplicating plans (the same call on the same thing is offered once). */
export function planKey(plan: RemediationPlan): string {
  return JSON.stringify([plan.account, plan.region, plan.service, plan.command, sortKeys(plan.input)]);
}

function sortKeys(v: Json): Json {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys(v[k] as Json)]),
    );
  }
  return v;
}

/** The AWS partition of a region (`aws`, `aws-us-gov`, `aws-cn`), for the ARNs secbot builds. */
export function partitionOf(region: string | undefined): string {
  if (region?.startsWith('us-gov-')) return 'aws-us-gov';
  if (region?.startsWith('cn-')) return 'aws-cn';
  return 'aws';
}

/** The ARN of secbot's remediation role in the plan's account (its partition from the region). */
export function remediationRoleArn(
  plan: Pick<RemediationPlan, 'account' | 'region'>,
  roleName: string,
): string {
  return `arn:${partitionOf(plan.region)}:iam::${plan.account}:role/${roleName}`;
}
