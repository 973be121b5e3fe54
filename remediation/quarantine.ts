/**
 * Quarantine of a call's principal: attach the AWS managed policy AWSDenyAll to the IAM user, or to
 * the role behind an assumed-role session.
 *
 * What AWS allows: IAM evaluates policies on every request, so an attached `Deny *` stops every
 * session of the user or role at once — long-term keys, console sessions and role sessions issued
 * before the quarantine included — for as long as it stays attached. AWS's own "revoke active
 * sessions" (an inline `Deny` on `aws:TokenIssueTime`) needs iam:PutRolePolicy with an arbitrary
 * document, which would let the remediation role grant itself anything; secbot does not hold it.
 * Before lifting a quarantine, revoke the role's sessions in the IAM console so stolen session
 * credentials stay dead. The root user, AWS service roles and IAM Identity Center roles cannot be
 * quarantined this way (IAM does not restrict root; the others are managed by AWS).
 */
import { principalOf } from '../cloudtrail/principal.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';
import { DENY_ALL_POLICY, type PlanResult, partitionOf } from './types.js';

const IAM_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):(user|role)\/(.+)$/;
const ASSUMED_ROLE_ARN = /^arn:aws[a-z-]*:sts::(\d{12}):assumed-role\/([^/]+)\/.+$/;

/**
 * The quarantine plan for the principal that made `record`, or why it cannot be quarantined.
 *
 * @example
 * const q = quarantineOf(record);
 * if (q.ok) q.plan.input // { RoleName: 'deploy', PolicyArn: 'arn:aws:iam::aws:policy/AWSDenyAll' }
 */
export function quarantineOf(record: CloudTrailRecord): PlanResult {
  const p = principalOf(record);
  const region = typeof record.awsRegion === 'string' && record.awsRegion ? record.awsRegion : 'us-east-1';
  const policyArn = `arn:${partitionOf(region)}:iam::aws:policy/${DENY_ALL_POLICY}`;
  if (p.type === 'Root') {
    return {
      ok: false,
      reason: 'IAM policies do not restrict the root user: secure its credentials by hand',
    };
  }
  if (p.isAwsService) return { ok: false, reason: `${p.name} is an AWS service` };

  let target: { kind: 'user' | 'role'; account: string; name: string; path: string } | undefined;
  // An IAM user, or the IAM user behind a federation token; else the role behind a role session.
  const sourceArn =
    p.type === 'IAMUser'
      ? p.arn
      : p.type === 'FederatedUser' || p.type === 'AssumedRole'
        ? p.issuerArn
        : undefined;
  const m = sourceArn ? IAM_ARN.exec(sourceArn) : undefined;
  const session = p.type === 'AssumedRole' && p.arn ? ASSUMED_ROLE_ARN.exec(p.arn) : undefined;
  if (m?.[1] && m[2] && m[3]) {
    const parts = m[3].split('/');
    const name = parts.pop() ?? '';
    target = { kind: m[2] as 'user' | 'role', account: m[1], name, path: parts.join('/') };
  } else if (session?.[1] && session[2]) {
    // No session issuer in the record: the session ARN still names the role (not its path).
    target = { kind: 'role', account: session[1], name: session[2], path: '' };
  }
  if (!target || target.name === '') {
    return { ok: false, reason: `no IAM user or role can be named for ${p.type} ${p.name}` };
  }
  if (
    target.kind === 'role' &&
    (target.path.startsWith('aws-reserved/sso.amazonaws.com') || target.name.startsWith('AWSReservedSSO_'))
  ) {
    return {
      ok: false,
      reason: `${target.name} is an IAM Identity Center role, which IAM cannot change: disable the user in Identity Center`,
    };
  }
  if (
    target.kind === 'role' &&
    (target.path.startsWith('aws-service-role') || target.name.startsWith('AWSServiceRoleFor'))
  ) {
    return { ok: false, reason: `${target.name} is a service-linked role` };
  }
  const isUser = target.kind === 'user';
  return {
    ok: true,
    plan: {
      kind: 'quarantine',
      service: 'iam',
      command: isUser ? 'AttachUserPolicy' : 'AttachRolePolicy',
      input: isUser
        ? { UserName: target.name, PolicyArn: policyArn }
        : { RoleName: target.name, PolicyArn: policyArn },
      account: target.account,
      region,
      label: `Quarantine ${target.kind} ${target.name}`,
      description:
        `iam:${isUser ? 'AttachUserPolicy' : 'AttachRolePolicy'} ${policyArn} to ${target.kind} ${target.name} ` +
        `in ${target.account}: denies every call of ${isUser ? 'the user' : 'every session of the role'}, current sessions included`,
    },
  };
}
