/**
 * The inverse of a CloudTrail call, built from the record's own request and response: pure functions
 * `record → plan`, or the reason the record does not hold what an exact inverse needs.
 */
import type { CloudTrailRecord, Json } from '../cloudtrail/record.js';
import {
  type PlanResult,
  type RemediationPlan,
  RULE_REMEDIATIONS,
  type RuleRemediationKind,
} from './types.js';

type JsonObject = { [key: string]: Json };

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (o: unknown, k: string): JsonObject | undefined => {
  const v = isObject(o) ? o[k] : undefined;
  return isObject(v) ? v : undefined;
};
const str = (o: unknown, k: string): string | undefined => {
  const v = isObject(o) ? o[k] : undefined;
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
};
/**
 * An XML-ish list as CloudTrail logs it: `{ items: [...] }`, `{}` (empty), a bare array, or — in the
 * SDK-wrapped request shape — a single object standing for a one-element list.
 */
const items = (v: unknown): JsonObject[] => {
  let list: unknown[] = [];
  if (Array.isArray(v)) list = v;
  else if (isObject(v)) list = Array.isArray(v.items) ? v.items : Object.keys(v).length > 0 ? [v] : [];
  return list.filter(isObject);
};
const port = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
  return Number.isInteger(n) ? n : undefined;
};

const fail = (reason: string): PlanResult => ({ ok: false, reason });

/** Where the call was made: the account that received it and its region. */
function whereOf(record: CloudTrailRecord): { account: string; region: string } | string {
  const account = record.recipientAccountId ?? record.userIdentity?.accountId;
  if (typeof account !== 'string' || !/^\d{12}$/.test(account))
    return 'the record names no 12-digit account to act in';
  const region = record.awsRegion;
  if (typeof region !== 'string' || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
    return 'the record names no AWS region to act in';
  return { account, region };
}

function plan(
  record: CloudTrailRecord,
  where: { account: string; region: string },
  p: Omit<RemediationPlan, 'account' | 'region' | 'eventId' | 'eventName' | 'description'> & {
    /** What the call acts on, for the description ("sg-1 rules sgr-1"). */
    target: string;
  },
): PlanResult {
  const { target, ...rest } = p;
  return {
    ok: true,
    plan: {
      ...rest,
      account: where.account,
      region: where.region,
      eventId: record.eventID,
      eventName: record.eventName,
      description: `${p.service}:${p.command} ${target} in ${where.account}/${where.region}`,
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// EC2: AuthorizeSecurityGroupIngress → RevokeSecurityGroupIngress

interface SdkIpPermission extends JsonObject {}

/** One CloudTrail `ipPermissions` item (or the SDK-wrapped `IpPermissions` entry) as the SDK's IpPermission. */
function ipPermission(p: JsonObject): SdkIpPermission | string {
  const protocol = str(p, 'ipProtocol') ?? str(p, 'IpProtocol') ?? String(p.ipProtocol ?? p.IpProtocol ?? '');
  if (protocol === '') return 'a permission without ipProtocol';
  const out: SdkIpPermission = { IpProtocol: protocol };
  const from = port(p.fromPort ?? p.FromPort);
  const to = port(p.toPort ?? p.ToPort);
  if (from !== undefined) out.FromPort = from;
  if (to !== undefined) out.ToPort = to;
  // Descriptions are not part of a rule's identity: revoke matches on protocol, ports and source.
  const v4 = items(p.ipRanges ?? p.IpRanges)
    .map((r) => str(r, 'cidrIp') ?? str(r, 'CidrIp'))
    .filter((c): c is string => c !== undefined)
    .map((CidrIp) => ({ CidrIp }));
  const v6 = items(p.ipv6Ranges ?? p.Ipv6Ranges)
    .map((r) => str(r, 'cidrIpv6') ?? str(r, 'CidrIpv6'))
    .filter((c): c is string => c !== undefined)
    .map((CidrIpv6) => ({ CidrIpv6 }));
  const lists = items(p.prefixListIds ?? p.PrefixListIds)
    .map((r) => str(r, 'prefixListId') ?? str(r, 'PrefixListId'))
    .filter((c): c is string => c !== undefined)
    .map((PrefixListId) => ({ PrefixListId }));
  const groups = items(p.groups ?? p.UserIdGroupPairs).map((g) => {
    const pair: JsonObject = {};
    const groupId = str(g, 'groupId') ?? str(g, 'GroupId');
    const groupName = str(g, 'groupName') ?? str(g, 'GroupName');
    const userId = str(g, 'userId') ?? str(g, 'UserId');
    if (groupId) pair.GroupId = groupId;
    else if (groupName) pair.GroupName = groupName;
    if (userId) pair.UserId = userId;
    return pair;
  });
  if (groups.some((g) => !g.GroupId && !g.GroupName)) return 'a source group without an id or name';
  if (v4.length) out.IpRanges = v4;
  if (v6.length) out.Ipv6Ranges = v6;
  if (lists.length) out.PrefixListIds = lists;
  if (groups.length) out.UserIdGroupPairs = groups;
  if (!v4.length && !v6.length && !lists.length && !groups.length) return 'a permission without a source';
  return out;
}

function describePermission(p: SdkIpPermission): string {
  const ports =
    p.FromPort === undefined
      ? 'all ports'
      : p.FromPort === p.ToPort || p.ToPort === undefined
        ? String(p.FromPort)
        : `${p.FromPort}-${p.ToPort}`;
  const sources = [
    ...items(p.IpRanges).map((r) => String(r.CidrIp)),
    ...items(p.Ipv6Ranges).map((r) => String(r.CidrIpv6)),
    ...items(p.PrefixListIds).map((r) => String(r.PrefixListId)),
    ...items(p.UserIdGroupPairs).map((g) => String(g.GroupId ?? g.GroupName)),
  ];
  const protocol = p.IpProtocol === '-1' ? 'all traffic' : `${String(p.IpProtocol)} ${ports}`;
  return `${protocol} from ${sources.join(', ')}`;
}

export function revokeSecurityGroupIngress(record: CloudTrailRecord): PlanResult {
  const where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  const req = record.requestParameters ?? {};
  const resp = record.responseElements ?? {};
  if (resp._return === false || resp.return === false) return fail('EC2 answered that nothing was added');

  // Newer records carry the ids of the rules the call created: revoke exactly those.
  const created = items(obj(resp, 'securityGroupRuleSet') ?? resp.securityGroupRuleSet).filter(
    (r) => str(r, 'securityGroupRuleId') && r.isEgress !== true,
  );
  const wrapped = obj(req, 'AuthorizeSecurityGroupIngressRequest');
  const groupId =
    str(req, 'groupId') ?? str(wrapped, 'GroupId') ?? created.map((r) => str(r, 'groupId')).find(Boolean);
  const groupName = str(req, 'groupName') ?? str(wrapped, 'GroupName');
  if (created.length > 0 && groupId) {
    const ids = created.map((r) => str(r, 'securityGroupRuleId') as string);
    return plan(record, where, {
      kind: 'revoke_security_group_ingress',
      service: 'ec2',
      command: 'RevokeSecurityGroupIngress',
      input: { GroupId: groupId, SecurityGroupRuleIds: ids },
      label: `Revoke ingress on ${groupId}`,
      target: `on ${groupId} rules ${ids.join(', ')}`,
    });
  }

  // Otherwise: the same permissions the call authorised.
  const group: JsonObject | undefined = groupId
    ? { GroupId: groupId }
    : groupName
      ? { GroupName: groupName }
      : undefined;
  if (!group) return fail('the request names no security group');
  const raw = req.ipPermissions !== undefined ? items(req.ipPermissions) : items(wrapped?.IpPermissions);
  let permissions: SdkIpPermission[];
  if (raw.length > 0) {
    const converted = raw.map(ipPermission);
    const bad = converted.find((c): c is string => typeof c === 'string');
    if (bad) return fail(`the request holds ${bad}`);
    permissions = converted as SdkIpPermission[];
  } else if (str(req, 'cidrIp') || str(req, 'sourceSecurityGroupName')) {
    // The flat legacy form: one permission spelled out in the request's own fields.
    const flat = ipPermission({
      ipProtocol: req.ipProtocol ?? '-1',
      fromPort: req.fromPort ?? null,
      toPort: req.toPort ?? null,
      ipRanges: str(req, 'cidrIp') ? [{ cidrIp: str(req, 'cidrIp') as string }] : [],
      groups: str(req, 'sourceSecurityGroupName')
        ? [
            {
              groupName: str(req, 'sourceSecurityGroupName') as string,
              userId: str(req, 'sourceSecurityGroupOwnerId') ?? null,
            },
          ]
        : [],
    });
    if (typeof flat === 'string') return fail(`the request holds ${flat}`);
    permissions = [flat];
  } else {
    return fail('the request holds no ipPermissions to revoke');
  }
  const name = String(group.GroupId ?? group.GroupName);
  return plan(record, where, {
    kind: 'revoke_security_group_ingress',
    service: 'ec2',
    command: 'RevokeSecurityGroupIngress',
    input: { ...group, IpPermissions: permissions },
    label: `Revoke ingress on ${name}`,
    target: `on ${name}: ${permissions.map(describePermission).join('; ')}`,
  });
}

// ---------------------------------------------------------------------------------------------------
// IAM

/** The IAM user a call acted on: the request's userName, else the response's, else the caller itself. */
function iamUserOf(record: CloudTrailRecord, responseKey?: string): string | undefined {
  const fromRequest = str(record.requestParameters, 'userName');
  if (fromRequest) return fromRequest;
  const fromResponse = responseKey ? str(obj(record.responseElements, responseKey), 'userName') : undefined;
  const id = record.userIdentity ?? {};
  // IAM calls without a userName act on the caller; only an IAM user has a name IAM can address.
  if (id.type === 'IAMUser') return fromResponse ?? str(id, 'userName');
  if (id.type === 'Root') return undefined;
  return fromResponse;
}

export function deactivateAccessKey(record: CloudTrailRecord): PlanResult {
  const where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  const keyId = str(obj(record.responseElements, 'accessKey'), 'accessKeyId');
  if (!keyId) return fail('the response holds no accessKeyId');
  const user = iamUserOf(record, 'accessKey');
  if (!user) {
    return fail(
      record.userIdentity?.type === 'Root'
        ? "the root user created a key for itself: only the root user can deactivate root's keys"
        : 'the record does not say which IAM user owns the key',
    );
  }
  return plan(record, where, {
    kind: 'deactivate_access_key',
    service: 'iam',
    command: 'UpdateAccessKey',
    input: { UserName: user, AccessKeyId: keyId, Status: 'Inactive' },
    label: `Deactivate key ${keyId}`,
    target: `Status=Inactive for key ${keyId} of user ${user}`,
  });
}

export function deleteLoginProfile(record: CloudTrailRecord): PlanResult {
  const where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  const user = iamUserOf(record, 'loginProfile');
  if (!user) return fail('the record does not say which IAM user got the console password');
  return plan(record, where, {
    kind: 'delete_login_profile',
    service: 'iam',
    command: 'DeleteLoginProfile',
    input: { UserName: user },
    label: `Delete console password of ${user}`,
    target: `for user ${user}`,
  });
}

const IAM_ENTITY = {
  User: { param: 'userName', input: 'UserName', word: 'user' },
  Role: { param: 'roleName', input: 'RoleName', word: 'role' },
  Group: { param: 'groupName', input: 'GroupName', word: 'group' },
} as const;
type IamEntity = keyof typeof IAM_ENTITY;

function entityOf(eventName: string, verb: 'Attach' | 'Put'): IamEntity | undefined {
  const m = new RegExp(`^${verb}(User|Role|Group)Policy$`).exec(eventName);
  return m?.[1] as IamEntity | undefined;
}

export function detachPolicy(record: CloudTrailRecord): PlanResult {
  const where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  const entity = entityOf(record.eventName, 'Attach');
  if (!entity) return fail(`${record.eventName} does not attach a managed policy`);
  const e = IAM_ENTITY[entity];
  const name = str(record.requestParameters, e.param);
  const policyArn = str(record.requestParameters, 'policyArn');
  if (!name || !policyArn) return fail(`the request lacks ${!name ? e.param : 'policyArn'}`);
  const policyName = policyArn.split('/').pop() ?? policyArn;
  return plan(record, where, {
    kind: 'detach_policy',
    service: 'iam',
    command: `Detach${entity}Policy`,
    input: { [e.input]: name, PolicyArn: policyArn },
    label: `Detach ${policyName} from ${e.word} ${name}`,
    target: `${policyArn} from ${e.word} ${name}`,
  });
}

export function deleteInlinePolicy(record: CloudTrailRecord): PlanResult {
  const where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  const entity = entityOf(record.eventName, 'Put');
  if (!entity) return fail(`${record.eventName} does not write an inline policy`);
  const e = IAM_ENTITY[entity];
  const name = str(record.requestParameters, e.param);
  const policyName = str(record.requestParameters, 'policyName');
  if (!name || !policyName) return fail(`the request lacks ${!name ? e.param : 'policyName'}`);
  return plan(record, where, {
    kind: 'delete_inline_policy',
    service: 'iam',
    command: `Delete${entity}Policy`,
    input: { [e.input]: name, PolicyName: policyName },
    label: `Delete policy ${policyName} of ${e.word} ${name}`,
    target: `${policyName} of ${e.word} ${name}`,
  });
}

// ---------------------------------------------------------------------------------------------------
// CloudTrail

const TRAIL_ARN = /^arn:aws[a-z-]*:cloudtrail:([a-z0-9-]+):(\d{12}):trail\/(.+)$/;
const DATA_STORE_ARN = /^arn:aws[a-z-]*:cloudtrail:([a-z0-9-]+):(\d{12}):eventdatastore\/(.+)$/;

export function startLogging(record: CloudTrailRecord): PlanResult {
  let where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  if (record.eventName === 'StopEventDataStoreIngestion') {
    const store = str(record.requestParameters, 'eventDataStore');
    if (!store) return fail('the request names no eventDataStore');
    const arn = DATA_STORE_ARN.exec(store);
    if (arn?.[1] && arn[2]) where = { region: arn[1], account: arn[2] };
    return plan(record, where, {
      kind: 'start_logging',
      service: 'cloudtrail',
      command: 'StartEventDataStoreIngestion',
      input: { EventDataStore: store },
      label: `Start ingestion on ${arn?.[3] ?? store}`,
      target: `on event data store ${store}`,
    });
  }
  const name = str(record.requestParameters, 'name');
  if (!name) return fail('the request names no trail');
  // A trail is started in its home region and account, which its ARN names.
  const arn = TRAIL_ARN.exec(name);
  if (arn?.[1] && arn[2]) where = { region: arn[1], account: arn[2] };
  return plan(record, where, {
    kind: 'start_logging',
    service: 'cloudtrail',
    command: 'StartLogging',
    input: { Name: name },
    label: `Start logging on ${arn?.[3] ?? name}`,
    target: `on trail ${name}`,
  });
}

// ---------------------------------------------------------------------------------------------------
// S3

const ALL_ON = {
  BlockPublicAcls: true,
  IgnorePublicAcls: true,
  BlockPublicPolicy: true,
  RestrictPublicBuckets: true,
};

export function restorePublicAccessBlock(record: CloudTrailRecord): PlanResult {
  const where = whereOf(record);
  if (typeof where === 'string') return fail(where);
  if (
    record.eventName === 'DeleteAccountPublicAccessBlock' ||
    record.eventName === 'PutAccountPublicAccessBlock'
  ) {
    return plan(record, where, {
      kind: 'restore_public_access_block',
      service: 's3control',
      command: 'PutPublicAccessBlock',
      input: { AccountId: where.account, PublicAccessBlockConfiguration: { ...ALL_ON } },
      label: 'Block public access account-wide',
      target: `(all four settings on) for account ${where.account}`,
    });
  }
  const bucket = str(record.requestParameters, 'bucketName');
  if (!bucket) return fail('the request names no bucket');
  return plan(record, where, {
    kind: 'restore_public_access_block',
    service: 's3',
    command: 'PutPublicAccessBlock',
    // ExpectedBucketOwner: a bucket of the same name in another account is never touched.
    input: {
      Bucket: bucket,
      ExpectedBucketOwner: where.account,
      PublicAccessBlockConfiguration: { ...ALL_ON },
    },
    label: `Block public access to ${bucket}`,
    target: `(all four settings on) on bucket ${bucket}`,
  });
}

// ---------------------------------------------------------------------------------------------------

const BUILDERS: Record<RuleRemediationKind, (record: CloudTrailRecord) => PlanResult> = {
  revoke_security_group_ingress: revokeSecurityGroupIngress,
  deactivate_access_key: deactivateAccessKey,
  delete_login_profile: deleteLoginProfile,
  detach_policy: detachPolicy,
  delete_inline_policy: deleteInlinePolicy,
  start_logging: startLogging,
  restore_public_access_block: restorePublicAccessBlock,
};

/**
 * The plan for remediation `kind` on `record`: the exact inverse of the call, or why there is none
 * (a failed call, a call the kind does not undo, a record without the request or response it needs).
 *
 * @example
 * const r = inverseOf('deactivate_access_key', record);
 * if (r.ok) r.plan.input // { UserName: 'bob', AccessKeyId: 'AKIA…', Status: 'Inactive' }
 */
export function inverseOf(kind: RuleRemediationKind, record: CloudTrailRecord): PlanResult {
  if (!(RULE_REMEDIATIONS[kind] as readonly string[]).includes(record.eventName))
    return fail(`${kind} does not undo ${record.eventName}`);
  if (typeof record.errorCode === 'string' && record.errorCode !== '')
    return fail(`the call failed (${record.errorCode}): there is nothing to undo`);
  return BUILDERS[kind](record);
}

/** The rule remediation kind that undoes this call, if any. */
export function kindUndoing(eventName: string): RuleRemediationKind | undefined {
  return (Object.keys(RULE_REMEDIATIONS) as RuleRemediationKind[]).find((k) =>
    (RULE_REMEDIATIONS[k] as readonly string[]).includes(eventName),
  );
}
