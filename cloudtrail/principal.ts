/**
 * Who made a CloudTrail call: {@link principalOf} turns a record's `userIdentity` (plus the few other
 * fields that say something about the caller) into a {@link Principal}.
 *
 * Every field is read defensively: the decoder guarantees only that `userIdentity` is an object, so
 * any value inside may be missing, null or of the wrong type, and keys may come in the lowercase
 * data-lake style (`principalid`, `sessioncontext`) some tools write.
 */
import { matchesAnyGlob } from '../lib/glob.js';
import type { Principal, PrincipalOptions, PrincipalType } from './principal-types.js';
import type { CloudTrailRecord } from './record.js';

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
export function isEmail(s: string | undefined): s is string {
  // No '@' (most names): not an address, without running the expression.
  return s !== undefined && s.length <= 254 && s.indexOf('@') > 0 && EMAIL_RE.test(s);
}

/** True for an AWS service host name such as `cloudformation.amazonaws.com`. */
export function isAwsServiceHost(s: string | undefined): boolean {
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

/**
 * What the policy reads of a caller (handlers/decide.ts): its type and the three flags, worked out
 * exactly as {@link principalOf} works them out (principalOf starts from this), without the name, the
 * email, MFA and the rest. The fields read on the way are kept for principalOf.
 */
export interface Caller {
  type: PrincipalType;
  isAwsService: boolean;
  isAutomation: boolean;
  isUnattributable: boolean;
}

/** A {@link Caller} with what was read to decide it (what {@link principalFrom} starts from). */
class CallerReading implements Caller {
  constructor(
    readonly type: PrincipalType,
    readonly isAwsService: boolean,
    readonly isAutomation: boolean,
    readonly isUnattributable: boolean,
    readonly ui: unknown,
    readonly arn: string | undefined,
    readonly principalId: string | undefined,
    readonly userName: string | undefined,
    readonly onBehalfOfUserId: string | undefined,
  ) {}
}

/**
 * The caller of one record as the policy sees it: {@link principalOf}'s `type`, `isAwsService`,
 * `isAutomation` and `isUnattributable`, for a fraction of the reads. Pure and total, like principalOf.
 */
export function callerOf(record: CloudTrailRecord, options?: PrincipalOptions): Caller {
  return readCaller(record, options);
}

function readCaller(record: CloudTrailRecord, options: PrincipalOptions | undefined): CallerReading {
  const ui: unknown = (record as { userIdentity?: unknown } | null | undefined)?.userIdentity;
  const rawType = str(ui, 'type');
  const arn = str(ui, 'arn');
  const principalId = str(ui, 'principalId', 'principalid');
  const userName = str(ui, 'userName', 'username');
  const onBehalfOfUserId = str(obj(ui, 'onBehalfOf', 'onbehalfof'), 'userId', 'userid');

  const hasIdentity =
    arn !== undefined ||
    userName !== undefined ||
    principalId !== undefined ||
    onBehalfOfUserId !== undefined;

  let type: PrincipalType;
  if (rawType !== undefined && KNOWN_TYPES.has(rawType)) type = rawType as PrincipalType;
  else if (rawType === undefined && !hasIdentity && serviceOnly(record, ui)) type = 'AWSService';
  else type = 'Unknown';

  // The session's issuer: for a service-linked role's sessions, and the automation globs.
  const automation = options?.automation;
  const wantsAutomation = automation !== undefined && automation.length > 0;
  let issuerArn: string | undefined;
  let issuerUserName: string | undefined;
  if (type === 'AssumedRole' || wantsAutomation) {
    const issuer = obj(obj(ui, 'sessionContext', 'sessioncontext'), 'sessionIssuer', 'sessionissuer');
    issuerArn = str(issuer, 'arn');
    issuerUserName = str(issuer, 'userName', 'username');
  }

  // An AWS service acting on its own: type AWSService (given, or inferred above for service events),
  // or a session of a service-linked role. A named identity whose call a service relayed (invokedBy
  // cloudformation.amazonaws.com, sourceIPAddress "AWS Internal" from the console) stays that
  // identity's call: the human who deployed the stack or clicked in the console is accountable.
  const isAwsService =
    type === 'AWSService' ||
    (type === 'AssumedRole' &&
      isServiceLinkedRole(parseAssumedRoleArn(arn).role ?? issuerUserName, issuerArn));

  const isUnattributable =
    !isAwsService &&
    (type === 'Unknown' ||
      isAnonymous(ui, principalId, arn) ||
      (type === 'AWSAccount' && arn === undefined) ||
      !hasIdentity);

  const isAutomation =
    wantsAutomation && (matchesAnyGlob(arn, automation) || matchesAnyGlob(issuerArn, automation));

  return new CallerReading(
    type,
    isAwsService,
    isAutomation,
    isUnattributable,
    ui,
    arn,
    principalId,
    userName,
    onBehalfOfUserId,
  );
}

/**
 * A service event carries no identity of its own, only the service: `{accountId, invokedBy}` (e.g.
 * SharedSnapshotVolumeCreated, EndSecretVersionDelete). Those are the service, not nobody. (For a
 * userIdentity with no type and no identity.)
 */
function serviceOnly(record: CloudTrailRecord, ui: unknown): boolean {
  const invokedBy = str(ui, 'invokedBy', 'invokedby');
  if (isAwsServiceHost(invokedBy) || invokedBy === 'AWS Internal') return true;
  const sourceIp = str(record, 'sourceIPAddress', 'sourceipaddress');
  return isAwsServiceHost(sourceIp) || sourceIp === 'AWS Internal';
}

/** The account of the identity: its accountId, else the ARN's. */
function accountOf(ui: unknown, arn: string | undefined): string | undefined {
  return str(ui, 'accountId', 'accountid') ?? arnAccount(arn);
}

function isAnonymous(ui: unknown, principalId: string | undefined, arn: string | undefined): boolean {
  return (
    // Lower-cased only when it could be it (9 characters): no string made per call otherwise.
    (principalId?.length === 9 && principalId.toLowerCase() === 'anonymous') ||
    principalId === 'ANONYMOUS_PRINCIPAL' ||
    accountOf(ui, arn) === 'ANONYMOUS_PRINCIPAL'
  );
}

/**
 * The principal behind one record. Pure and total: any record the decoder accepted (and any object at
 * all) gives a principal with a non-empty `name` and `key`.
 */
export function principalOf(record: CloudTrailRecord, options?: PrincipalOptions): Principal {
  return principalFrom(record, readCaller(record, options));
}

/**
 * {@link principalOf} of `record`, given what {@link callerOf} returned for it (with the same options):
 * the rest of the principal, without reading again what the caller was decided from.
 */
export function principalFrom(record: CloudTrailRecord, caller: Caller): Principal {
  if (!(caller instanceof CallerReading)) throw new TypeError('principalFrom needs what callerOf returned');
  const c = caller;
  const { ui, type, arn, principalId, userName, onBehalfOfUserId } = c;
  const sourceIp = str(record, 'sourceIPAddress', 'sourceipaddress');
  const userAgent = str(record, 'userAgent', 'useragent');
  const invokedBy = str(ui, 'invokedBy', 'invokedby');
  const accountId = accountOf(ui, arn);
  const sessionContext = obj(ui, 'sessionContext', 'sessioncontext');
  const issuer = obj(sessionContext, 'sessionIssuer', 'sessionissuer');
  const issuerArn = str(issuer, 'arn');
  const issuerUserName = str(issuer, 'userName', 'username');

  let name: string | undefined;
  let sessionName: string | undefined;
  let issuerName: string | undefined = issuerUserName ?? (issuerArn ? lastSegment(issuerArn) : undefined);
  let key: string | undefined;

  switch (type) {
    case 'IAMUser': {
      name = userName ?? lastSegment(arnResource(arn) ?? '') ?? principalId;
      key = arn;
      break;
    }
    case 'AssumedRole': {
      const parsed = parseAssumedRoleArn(arn);
      sessionName = parsed.session ?? (arn === undefined ? principalIdTail(principalId) : undefined);
      const role = parsed.role ?? issuerName;
      issuerName ??= parsed.role;
      // IAM Identity Center sessions read as the person and their permission set: "dana@example.com (PowerUser)".
      const permissionSet =
        role?.startsWith('AWSReservedSSO_') === true
          ? /^AWSReservedSSO_(.+?)_[0-9a-f]{16}$/.exec(role)?.[1]
          : undefined;
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

  const principal: Principal = {
    type,
    name,
    isAwsService: c.isAwsService,
    isAutomation: c.isAutomation,
    isUnattributable: c.isUnattributable,
    key,
  };
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
