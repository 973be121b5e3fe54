/**
 * Runs a remediation plan: assume SECBOT_REMEDIATION_ROLE in the plan's account (STS), then send the
 * plan's one command with the matching AWS SDK v3 client. Every failure comes back as a value that
 * says whether AWS was called, so the caller knows whether the remediation may be pressed again.
 * The shadow executor prints the exact call instead of making it.
 */
import {
  CloudTrailClient,
  StartEventDataStoreIngestionCommand,
  StartLoggingCommand,
} from '@aws-sdk/client-cloudtrail';
import { EC2Client, RevokeSecurityGroupIngressCommand } from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DeleteGroupPolicyCommand,
  DeleteLoginProfileCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  IAMClient,
  UpdateAccessKeyCommand,
} from '@aws-sdk/client-iam';
import {
  PutPublicAccessBlockCommand as PutBucketPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand,
  S3ControlClient,
} from '@aws-sdk/client-s3-control';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { type Logger, pino } from 'pino';
import {
  commandKey,
  isKnownCommand,
  type RemediationCommand,
  type RemediationPlan,
  type RemediationService,
  remediationRoleArn,
} from '../remediation/types.js';
import type { Print } from './shadow.js';

/** Who runs which remediation, for the session name and the log. */
export interface RemediationRun {
  alertId: string;
  remediationId: string;
  /** The Slack user who pressed and passed Duo. */
  actor: string;
}

export type RemediationResult =
  /** AWS accepted the call (or, `shadow`, it was printed instead). */
  | { ok: true; outcome: string; requestId?: string; shadow?: boolean }
  /** `sent: false`: AWS was never asked to change anything (the role could not be assumed, a refusal). */
  | { ok: false; sent: boolean; error: string; requestId?: string };

export interface RemediationExecutor {
  /** `live` calls AWS; `shadow` prints the exact call and changes nothing. */
  readonly mode: 'live' | 'shadow';
  readonly roleName?: string;
  execute(plan: RemediationPlan, run: RemediationRun): Promise<RemediationResult>;
}

/**
 * The SDK command class for every plan command. Dispatching through this table keeps the plan data
 * (a command name and its input) apart from the SDK, and is the list the remediation role's policy is
 * checked against (test/terraform/remediation-role.test.ts).
 */
export const SDK_COMMANDS = {
  'ec2:RevokeSecurityGroupIngress': RevokeSecurityGroupIngressCommand,
  'iam:UpdateAccessKey': UpdateAccessKeyCommand,
  'iam:DeleteLoginProfile': DeleteLoginProfileCommand,
  'iam:DetachUserPolicy': DetachUserPolicyCommand,
  'iam:DetachRolePolicy': DetachRolePolicyCommand,
  'iam:DetachGroupPolicy': DetachGroupPolicyCommand,
  'iam:DeleteUserPolicy': DeleteUserPolicyCommand,
  'iam:DeleteRolePolicy': DeleteRolePolicyCommand,
  'iam:DeleteGroupPolicy': DeleteGroupPolicyCommand,
  'iam:AttachUserPolicy': AttachUserPolicyCommand,
  'iam:AttachRolePolicy': AttachRolePolicyCommand,
  'cloudtrail:StartLogging': StartLoggingCommand,
  'cloudtrail:StartEventDataStoreIngestion': StartEventDataStoreIngestionCommand,
  's3:PutPublicAccessBlock': PutBucketPublicAccessBlockCommand,
  's3control:PutPublicAccessBlock': PutAccountPublicAccessBlockCommand,
} satisfies Record<RemediationCommand, new (input: never) => unknown>;

type Credentials = { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date };
interface SendingClient {
  send(command: unknown): Promise<{ $metadata?: { requestId?: string } } & Record<string, unknown>>;
  destroy(): void;
}

/** A client of `service` in `region` with the assumed role's credentials. */
function clientFor(service: RemediationService, region: string, credentials: Credentials): SendingClient {
  const config = { region, credentials, maxAttempts: 3 };
  switch (service) {
    case 'ec2':
      return new EC2Client(config) as unknown as SendingClient;
    case 'iam':
      return new IAMClient(config) as unknown as SendingClient;
    case 'cloudtrail':
      return new CloudTrailClient(config) as unknown as SendingClient;
    case 's3':
      // A bucket may live elsewhere than the record's region says: follow S3's redirect.
      return new S3Client({ ...config, followRegionRedirects: true }) as unknown as SendingClient;
    case 's3control':
      return new S3ControlClient(config) as unknown as SendingClient;
  }
}

export interface RemediationExecutorOptions {
  /** SECBOT_REMEDIATION_ROLE: the role's name in every workload account. */
  roleName: string;
  /** Injected STS client; by default one in `region` with `credentials` or the SDK's provider chain. */
  sts?: STSClient;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  logger?: Logger;
  /** How long the assumed credentials live; STS's minimum, 900 s, by default. */
  sessionSeconds?: number;
}

/** RoleSessionName allows `[\w+=,.@-]`, 2 to 64 characters. */
export function sessionNameFor(alertId: string): string {
  return `secbot-remediation-${alertId}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64);
}

const errorText = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}` : String(err);
const requestIdOf = (err: unknown): string | undefined =>
  (err as { $metadata?: { requestId?: string } } | undefined)?.$metadata?.requestId;

/** The IAM changes secbot refuses even when a plan asks: it never restricts its own remediation role. */
function refusal(plan: RemediationPlan, roleName: string): string | undefined {
  if (!isKnownCommand(commandKey(plan))) return `${commandKey(plan)} is not a remediation secbot makes`;
  if (plan.service === 'iam' && plan.input.RoleName === roleName)
    return `secbot does not change its own remediation role ${roleName}`;
  return undefined;
}

/** What AWS answered, in words; a revoke that matched nothing is not a success. */
function outcomeOf(
  plan: RemediationPlan,
  output: Record<string, unknown>,
): { ok: true; text: string } | { ok: false; text: string } {
  if (plan.command === 'RevokeSecurityGroupIngress') {
    if (output.Return === false) return { ok: false, text: 'EC2 revoked nothing' };
    const revoked = (output.RevokedSecurityGroupRules as { SecurityGroupRuleId?: string }[] | undefined)
      ?.map((r) => r.SecurityGroupRuleId)
      .filter(Boolean);
    const unknown = (output.UnknownIpPermissions as unknown[] | undefined)?.length ?? 0;
    const text = revoked?.length ? `revoked ${revoked.join(', ')}` : 'revoked';
    return {
      ok: true,
      text: unknown > 0 ? `${text}; EC2 did not find ${unknown} permission(s) (already revoked?)` : text,
    };
  }
  return { ok: true, text: `${plan.command} succeeded` };
}

/**
 * The live executor.
 *
 * @example
 * const executor = createRemediationExecutor({ roleName: 'secbot-remediation', region: 'eu-west-1' });
 * const r = await executor.execute(plan, { alertId, remediationId: 'r1', actor: 'U0STAFF' });
 */
export function createRemediationExecutor(opts: RemediationExecutorOptions): RemediationExecutor {
  const sts =
    opts.sts ?? new STSClient({ region: opts.region, credentials: opts.credentials, maxAttempts: 3 });
  const log = (opts.logger ?? pino({ level: 'silent' })).child({ integration: 'remediation' });
  return {
    mode: 'live',
    roleName: opts.roleName,
    async execute(plan, run) {
      const refused = refusal(plan, opts.roleName);
      if (refused) return { ok: false, sent: false, error: refused };
      const roleArn = remediationRoleArn(plan, opts.roleName);
      let credentials: Credentials;
      try {
        const assumed = await sts.send(
          new AssumeRoleCommand({
            RoleArn: roleArn,
            RoleSessionName: sessionNameFor(run.alertId),
            DurationSeconds: opts.sessionSeconds ?? 900,
          }),
        );
        const c = assumed.Credentials;
        if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('STS answered without credentials');
        credentials = {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
          expiration: c.Expiration,
        };
      } catch (err) {
        log.warn({ err, roleArn }, `remediation: cannot assume ${roleArn}`);
        return { ok: false, sent: false, error: `cannot assume ${roleArn}: ${errorText(err)}` };
      }
      const key = commandKey(plan) as RemediationCommand;
      const Command = SDK_COMMANDS[key] as unknown as new (input: unknown) => unknown;
      const client = clientFor(plan.service, plan.region, credentials);
      try {
        const output = await client.send(new Command(plan.input));
        const requestId = output.$metadata?.requestId;
        const outcome = outcomeOf(plan, output);
        log.info(
          { alertId: run.alertId, remediationId: run.remediationId, actor: run.actor, requestId },
          `remediation: ${key} in ${plan.account}/${plan.region}: ${outcome.text}`,
        );
        return outcome.ok
          ? { ok: true, outcome: outcome.text, requestId }
          : { ok: false, sent: true, error: outcome.text, requestId };
      } catch (err) {
        log.warn(
          { err, alertId: run.alertId },
          `remediation: ${key} in ${plan.account}/${plan.region} failed`,
        );
        // Once the call left, whether AWS applied it is AWS's answer: reported, never retried blindly.
        return { ok: false, sent: true, error: errorText(err), requestId: requestIdOf(err) };
      } finally {
        client.destroy();
      }
    },
  };
}

/**
 * The shadow executor: the same plan, printed as the exact call (role, command, input, account,
 * region) instead of made.
 */
export function shadowRemediationExecutor(opts: {
  print: Print;
  roleName?: string;
  why: string;
}): RemediationExecutor {
  const role = opts.roleName ?? '<SECBOT_REMEDIATION_ROLE>';
  return {
    mode: 'shadow',
    roleName: opts.roleName,
    async execute(plan, run) {
      const call = `${commandKey(plan)} ${JSON.stringify(plan.input)}`;
      opts.print(
        `[shadow] remediation ${run.remediationId} of ${run.alertId} by ${run.actor}: would assume ` +
          `${remediationRoleArn(plan, role)} and call ${call} in ${plan.account}/${plan.region} (${opts.why})`,
      );
      return {
        ok: true,
        shadow: true,
        outcome: `shadow (${opts.why}): would call ${call}; nothing was called`,
      };
    },
  };
}
