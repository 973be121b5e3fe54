/**
 * callerOf (what the policy reads of a caller) agrees with principalOf, and principalFrom finishes
 * exactly the principal principalOf gives (issue 7: the policy no longer works out the whole
 * principal). Over the corpus and over identities built from every field principalOf reads, in both
 * spellings, with wrong types and values. principalOf itself is held to its version before the split
 * (below, verbatim).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { generateRecords, loadCorpus } from '../../bench/inputs.js';
import { callerOf, principalFrom, principalOf } from '../../cloudtrail/principal.js';
import type { Principal, PrincipalOptions, PrincipalType } from '../../cloudtrail/principal-types.js';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { matchesAnyGlob } from '../../lib/glob.js';

const OPTIONS: (PrincipalOptions | undefined)[] = [
  undefined,
  { automation: [] },
  { automation: ['arn:aws:iam::*:role/ci-*', 'arn:aws:sts::*:assumed-role/*/b*', 'arn:aws:iam::*:user/a*'] },
];

function agree(record: CloudTrailRecord): void {
  for (const options of OPTIONS) {
    const principal = principalOf(record, options);
    assert.deepEqual(principal, referencePrincipalOf(record, options));
    const caller = callerOf(record, options);
    assert.deepEqual(
      {
        type: caller.type,
        isAwsService: caller.isAwsService,
        isAutomation: caller.isAutomation,
        isUnattributable: caller.isUnattributable,
      },
      {
        type: principal.type,
        isAwsService: principal.isAwsService,
        isAutomation: principal.isAutomation,
        isUnattributable: principal.isUnattributable,
      },
    );
    assert.deepEqual(principalFrom(record, caller), principal);
  }
}

const text = fc.constantFrom(
  '',
  'alice',
  'alice@example.com',
  'anonymous',
  'ANONYMOUS_PRINCIPAL',
  'AWS Internal',
  'cloudformation.amazonaws.com',
  'AROAEXAMPLE:dana@example.com',
  'AIDAEXAMPLE',
  'arn:aws:iam::111122223333:user/ci-bot',
  'arn:aws:iam::111122223333:user/alice',
  'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/bob@example.com',
  'arn:aws:sts::111122223333:assumed-role/AWSServiceRoleForECS/session',
  'arn:aws:sts::ANONYMOUS_PRINCIPAL:assumed-role/r/s',
  'arn:aws:iam::111122223333:role/aws-service-role/ecs.amazonaws.com/AWSServiceRoleForECS',
  'arn:aws:iam::111122223333:role/ci-deploy',
  'arn:aws:sts::111122223333:federated-user/carol',
  'arn:aws:iam::111122223333:root',
  '111122223333',
);
const anyValue = fc.oneof(text, fc.constant(undefined), fc.constant(null), fc.integer(), fc.boolean());
const type = fc.oneof(
  fc.constantFrom(
    'IAMUser',
    'AssumedRole',
    'Root',
    'FederatedUser',
    'AWSService',
    'AWSAccount',
    'IdentityCenterUser',
    'SAMLUser',
    'WebIdentityUser',
    'Unknown',
    'Other',
  ),
  anyValue,
);
/** One of a key's spellings (camelCase or the data-lake lowercase), or neither. */
const spelled = (key: string, value: fc.Arbitrary<unknown>) =>
  fc.tuple(fc.constantFrom(key, key.toLowerCase(), undefined), value).map(([k, v]) => (k ? { [k]: v } : {}));
const identity = fc
  .tuple(
    spelled('type', type),
    spelled('arn', anyValue),
    spelled('principalId', anyValue),
    spelled('userName', anyValue),
    spelled('accountId', anyValue),
    spelled('invokedBy', anyValue),
    spelled('onBehalfOf', fc.oneof(anyValue, spelled('userId', anyValue))),
    spelled(
      'sessionContext',
      fc.oneof(
        anyValue,
        fc
          .tuple(
            spelled(
              'sessionIssuer',
              fc.oneof(anyValue, fc.tuple(spelled('arn', text), spelled('userName', text))),
            ),
            spelled(
              'attributes',
              fc.oneof(anyValue, spelled('mfaAuthenticated', fc.constantFrom('true', 'FALSE ', 'x'))),
            ),
          )
          .map((parts) => Object.assign({}, ...parts.flat())),
      ),
    ),
  )
  .map((parts) => Object.assign({}, ...parts.flat()) as Record<string, unknown>);

describe('callerOf and principalFrom', () => {
  it('agree with principalOf on the corpus and on generated records', () => {
    const corpus = loadCorpus();
    for (const r of corpus.records) agree(r);
    for (const r of generateRecords(corpus, 2_000, {
      seed: 3,
      anchorMs: Date.parse('2025-06-02T12:00:00Z'),
    })) {
      agree(r);
    }
  });

  it('agree with principalOf on any identity, in either spelling, whatever its values', () => {
    fc.assert(
      fc.property(
        fc.oneof(identity, anyValue),
        fc.constantFrom('ConsoleLogin', 'PutUserPolicy'),
        fc.oneof(text, fc.constant(undefined)),
        (userIdentity, eventName, sourceIPAddress) => {
          agree({
            eventID: 'e',
            eventName,
            eventSource: 'iam.amazonaws.com',
            eventTime: '2024-05-01T12:00:00Z',
            sourceIPAddress,
            userAgent: 'aws-cli/2.15.0',
            additionalEventData: { MFAUsed: 'Yes' },
            userIdentity,
          } as unknown as CloudTrailRecord);
          return true;
        },
      ),
      { numRuns: 3_000, seed: 21 },
    );
  });

  it('the issuer counts for automation whatever the type, as the ARN does', () => {
    for (const type of ['FederatedUser', 'IAMUser', 'AssumedRole', undefined]) {
      const record = {
        eventID: 'e',
        eventName: 'PutUserPolicy',
        eventSource: 'iam.amazonaws.com',
        eventTime: '2024-05-01T12:00:00Z',
        userIdentity: {
          type,
          arn: 'arn:aws:sts::111122223333:federated-user/dana',
          sessionContext: {
            sessionIssuer: { arn: 'arn:aws:iam::111122223333:role/ci-deploy', userName: 'ci' },
          },
        },
      } as unknown as CloudTrailRecord;
      agree(record);
      assert.equal(callerOf(record, OPTIONS[2]).isAutomation, true);
    }
  });

  it('principalFrom takes only what callerOf returned', () => {
    const record = generateRecords(loadCorpus(), 1, { seed: 1, anchorMs: 0 })[0] as CloudTrailRecord;
    assert.throws(
      () =>
        principalFrom(record, {
          type: 'IAMUser',
          isAwsService: false,
          isAutomation: false,
          isUnattributable: false,
        }),
      TypeError,
    );
  });
});

// ---- principalOf before callerOf, verbatim (cloudtrail/principal.ts at the start of issue 7) ----

const KNOWN_TYPES: ReadonlySet<string> = new Set<PrincipalType>([
  'IAMUser',
  'AssumedRole',
  'Root',
  'FederatedUser',
  'AWSService',
  'AWSAccount',
  'IdentityCenterUser',
  'SAMLUser',
  'WebIdentityUser',
  'Unknown',
]);

/**
 * A sane email address: a dot-atom local part, a dotted domain with a letter-only top level. Not the
 * whole of RFC 5322 on purpose: quoted local parts and IP literals are not how people are named.
 */
const EMAIL_RE =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** `*.amazonaws.com` (a service principal or service endpoint), e.g. `lambda.amazonaws.com`. */
const AWS_SERVICE_HOST_RE = /^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(?:\.cn)?$/i;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * An own property of `o`, trying the camelCase key then its lowercase form (`lower`, given by the
 * caller so nothing is computed per read); never an inherited one.
 */
function val(o: unknown, key: string, lower: string): unknown {
  if (typeof o !== 'object' || o === null) return undefined;
  // A plain read first (most keys asked for are absent), then the own-property check on a hit.
  const v = (o as Record<string, unknown>)[key];
  if (v !== undefined && hasOwn.call(o, key)) return v;
  if (lower === key) return undefined;
  const w = (o as Record<string, unknown>)[lower];
  return w !== undefined && hasOwn.call(o, lower) ? w : undefined;
}

/** {@link val} as a non-empty string, else undefined. */
function str(o: unknown, key: string, lower: string = key): string | undefined {
  const v = val(o, key, lower);
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

/** {@link val} as a (non-array) object, else undefined. */
function obj(o: unknown, key: string, lower: string = key): Record<string, unknown> | undefined {
  const v = val(o, key, lower);
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** True for a well-formed email address (after trimming nothing: session names carry no spaces). */
function isEmail(s: string | undefined): s is string {
  // No '@' (most names): not an address, without running the expression.
  return s !== undefined && s.length <= 254 && s.indexOf('@') > 0 && EMAIL_RE.test(s);
}

/** True for an AWS service host name such as `cloudformation.amazonaws.com`. */
function isAwsServiceHost(s: string | undefined): boolean {
  return s !== undefined && AWS_SERVICE_HOST_RE.test(s);
}

/** The resource part of an ARN (`user/path/name`, `assumed-role/Role/session`, `root`), if it is an ARN. */
function arnResource(arn: string | undefined): string | undefined {
  if (!arn?.startsWith('arn:')) return undefined;
  // arn:partition:service:region:account:resource — the resource may itself contain ':'.
  let idx = -1;
  for (let n = 0; n < 5; n++) {
    idx = arn.indexOf(':', idx + 1);
    if (idx === -1) return undefined;
  }
  return arn.slice(idx + 1);
}

/** The account field of an ARN, if present. */
function arnAccount(arn: string | undefined): string | undefined {
  if (!arn?.startsWith('arn:')) return undefined;
  const parts = arn.split(':');
  return parts.length >= 6 && parts[4] ? parts[4] : undefined;
}

function lastSegment(path: string): string | undefined {
  const seg = path.slice(path.lastIndexOf('/') + 1);
  return seg.length > 0 ? seg : undefined;
}

/** Role and session of an assumed-role ARN (`…:assumed-role/Role/session`). */
function parseAssumedRoleArn(arn: string | undefined): { role?: string; session?: string } {
  const res = arnResource(arn);
  if (!res?.startsWith('assumed-role/')) return {};
  const rest = res.slice('assumed-role/'.length);
  const slash = rest.indexOf('/');
  if (slash === -1) return rest ? { role: rest } : {};
  const role = rest.slice(0, slash) || undefined;
  const session = lastSegment(rest);
  return { role, session };
}

/** The part of a principalId after the first `:` (`AROA…:session`, `provider:user`). */
function principalIdTail(principalId: string | undefined): string | undefined {
  if (principalId === undefined) return undefined;
  const i = principalId.indexOf(':');
  if (i === -1 || i === principalId.length - 1) return undefined;
  return principalId.slice(i + 1);
}

function isServiceLinkedRole(roleName: string | undefined, issuerArn: string | undefined): boolean {
  if (roleName?.startsWith('AWSServiceRoleFor')) return true;
  if (issuerArn?.includes(':role/aws-service-role/')) return true;
  const issuerName = issuerArn ? lastSegment(issuerArn) : undefined;
  return issuerName?.startsWith('AWSServiceRoleFor') ?? false;
}

function parseBool(v: unknown, yes: string, no: string): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === yes) return true;
  if (s === no) return false;
  return undefined;
}

/** principalOf as it was before callerOf (issue 7), kept as the reference. */
function referencePrincipalOf(record: CloudTrailRecord, options?: PrincipalOptions): Principal {
  const ui: unknown = (record as { userIdentity?: unknown } | null | undefined)?.userIdentity;
  const sourceIp = str(record, 'sourceIPAddress', 'sourceipaddress');
  const userAgent = str(record, 'userAgent', 'useragent');

  const rawType = str(ui, 'type');
  const arn = str(ui, 'arn');
  const principalId = str(ui, 'principalId', 'principalid');
  const userName = str(ui, 'userName', 'username');
  const invokedBy = str(ui, 'invokedBy', 'invokedby');
  const accountId = str(ui, 'accountId', 'accountid') ?? arnAccount(arn);
  const sessionContext = obj(ui, 'sessionContext', 'sessioncontext');
  const issuer = obj(sessionContext, 'sessionIssuer', 'sessionissuer');
  const issuerArn = str(issuer, 'arn');
  const issuerUserName = str(issuer, 'userName', 'username');
  const onBehalfOf = obj(ui, 'onBehalfOf', 'onbehalfof');
  const onBehalfOfUserId = str(onBehalfOf, 'userId', 'userid');

  const hasIdentity =
    arn !== undefined ||
    userName !== undefined ||
    principalId !== undefined ||
    onBehalfOfUserId !== undefined;
  // A service event carries no identity of its own, only the service: `{accountId, invokedBy}`
  // (e.g. SharedSnapshotVolumeCreated, EndSecretVersionDelete). Those are the service, not nobody.
  const serviceOnly =
    rawType === undefined &&
    !hasIdentity &&
    (isAwsServiceHost(invokedBy) ||
      invokedBy === 'AWS Internal' ||
      isAwsServiceHost(sourceIp) ||
      sourceIp === 'AWS Internal');

  let type: PrincipalType;
  if (rawType !== undefined && KNOWN_TYPES.has(rawType)) type = rawType as PrincipalType;
  else if (serviceOnly) type = 'AWSService';
  else type = 'Unknown';

  let name: string | undefined;
  let sessionName: string | undefined;
  let issuerName: string | undefined = issuerUserName ?? (issuerArn ? lastSegment(issuerArn) : undefined);
  let key: string | undefined;
  let assumedRole: string | undefined;

  switch (type) {
    case 'IAMUser': {
      name = userName ?? lastSegment(arnResource(arn) ?? '') ?? principalId;
      key = arn;
      break;
    }
    case 'AssumedRole': {
      const parsed = parseAssumedRoleArn(arn);
      sessionName = parsed.session ?? (arn === undefined ? principalIdTail(principalId) : undefined);
      assumedRole = parsed.role;
      const role = parsed.role ?? issuerName;
      issuerName ??= parsed.role;
      // IAM Identity Center sessions read as the person and their permission set: "dana@example.com (PowerUser)".
      const permissionSet = role ? /^AWSReservedSSO_(.+?)_[0-9a-f]{16}$/.exec(role)?.[1] : undefined;
      if (permissionSet && sessionName) name = `${sessionName} (${permissionSet})`;
      else if (role && sessionName) name = `${role}/${sessionName}`;
      else name = role ?? sessionName ?? userName ?? principalId;
      key = arn;
      break;
    }
    case 'Root': {
      name = 'root';
      key = `root:${accountId ?? 'unknown'}`;
      break;
    }
    case 'FederatedUser': {
      const res = arnResource(arn);
      name =
        (res?.startsWith('federated-user/') ? lastSegment(res) : undefined) ?? principalIdTail(principalId);
      name ??= userName ?? principalId;
      key = arn;
      break;
    }
    case 'AWSService': {
      name =
        invokedBy ??
        principalId ??
        (isAwsServiceHost(sourceIp) || sourceIp === 'AWS Internal' ? sourceIp : undefined);
      key = arn;
      break;
    }
    case 'IdentityCenterUser': {
      name = userName ?? onBehalfOfUserId ?? principalId;
      key = arn ?? (onBehalfOfUserId ? `identity-center:${onBehalfOfUserId}` : undefined);
      break;
    }
    default: {
      // SAMLUser, WebIdentityUser, AWSAccount, Unknown.
      name =
        userName ??
        lastSegment(arnResource(arn) ?? '') ??
        principalId ??
        (accountId ? `account:${accountId}` : undefined);
      key = arn;
    }
  }
  name ??= 'unknown';
  key ??= name;

  // Email: the user's own name, then an assumed-role session name, then the Identity Center user,
  // then the tail of the principalId (`AROA…:someone@example.com`).
  let email: string | undefined;
  let emailSource: Principal['emailSource'];
  const ownName =
    type === 'IAMUser' || type === 'SAMLUser' || type === 'WebIdentityUser' || type === 'IdentityCenterUser'
      ? userName
      : type === 'FederatedUser'
        ? name
        : undefined;
  const principalIdEmail =
    type === 'Unknown' || type === 'AWSService' ? undefined : principalIdTail(principalId);
  if (isEmail(ownName)) {
    email = ownName;
    emailSource = 'user_name';
  } else if (isEmail(sessionName)) {
    email = sessionName;
    emailSource = 'session_name';
  } else if (isEmail(onBehalfOfUserId)) {
    email = onBehalfOfUserId;
    emailSource = 'on_behalf_of';
  } else if (isEmail(principalIdEmail)) {
    email = principalIdEmail;
    emailSource = 'principal_id';
  }
  if (email !== undefined) email = email.toLowerCase();

  // MFA: a console sign-in says so itself; otherwise the session's attributes.
  let mfa: boolean | undefined;
  if (str(record, 'eventName', 'eventname') === 'ConsoleLogin') {
    mfa = parseBool(
      val(obj(record, 'additionalEventData', 'additionaleventdata'), 'MFAUsed', 'mfaused'),
      'yes',
      'no',
    );
  }
  mfa ??= parseBool(
    val(obj(sessionContext, 'attributes'), 'mfaAuthenticated', 'mfaauthenticated'),
    'true',
    'false',
  );

  // An AWS service acting on its own: type AWSService (given, or inferred above for service events),
  // or a session of a service-linked role. A named identity whose call a service relayed (invokedBy
  // cloudformation.amazonaws.com, sourceIPAddress "AWS Internal" from the console) stays that
  // identity's call: the human who deployed the stack or clicked in the console is accountable.
  const isAwsService =
    type === 'AWSService' ||
    (type === 'AssumedRole' && isServiceLinkedRole(assumedRole ?? issuerUserName, issuerArn));

  const anonymous =
    // Lower-cased only when it could be it (9 characters): no string made per call otherwise.
    (principalId?.length === 9 && principalId.toLowerCase() === 'anonymous') ||
    principalId === 'ANONYMOUS_PRINCIPAL' ||
    accountId === 'ANONYMOUS_PRINCIPAL';
  const isUnattributable =
    !isAwsService &&
    (type === 'Unknown' || anonymous || (type === 'AWSAccount' && arn === undefined) || !hasIdentity);

  const automation = options?.automation;
  const isAutomation =
    automation !== undefined &&
    automation.length > 0 &&
    (matchesAnyGlob(arn, automation) || matchesAnyGlob(issuerArn, automation));

  const principal: Principal = { type, name, isAwsService, isAutomation, isUnattributable, key };
  if (accountId !== undefined) principal.accountId = accountId;
  if (arn !== undefined) principal.arn = arn;
  if (sessionName !== undefined) principal.sessionName = sessionName;
  if (issuerArn !== undefined) principal.issuerArn = issuerArn;
  if (
    issuerName !== undefined &&
    (type === 'AssumedRole' || type === 'FederatedUser' || issuerArn !== undefined)
  ) {
    principal.issuerName = issuerName;
  }
  if (email !== undefined) {
    principal.email = email;
    principal.emailSource = emailSource;
  }
  if (mfa !== undefined) principal.mfa = mfa;
  if (sourceIp !== undefined) principal.sourceIp = sourceIp;
  if (userAgent !== undefined) principal.userAgent = userAgent;
  return principal;
}
