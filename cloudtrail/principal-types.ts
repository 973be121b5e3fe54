/** Who made a CloudTrail call, as a first-class value. */

export type PrincipalType =
  | 'IAMUser'
  | 'AssumedRole'
  | 'Root'
  | 'FederatedUser'
  | 'AWSService'
  | 'AWSAccount'
  | 'IdentityCenterUser'
  | 'SAMLUser'
  | 'WebIdentityUser'
  | 'Unknown';

export interface Principal {
  type: PrincipalType;
  /** The account the principal belongs to (userIdentity.accountId), if known. */
  accountId?: string;
  arn?: string;
  /** Readable name: IAM user name, role/session, service name, "root". Never empty. */
  name: string;
  /** Session name of an assumed role (the part after the last `/` of an assumed-role ARN). */
  sessionName?: string;
  /** The role (or user) that issued the session, for assumed roles and federated users. */
  issuerArn?: string;
  issuerName?: string;
  /** An email address the record carries for the human behind the call, lowercased. */
  email?: string;
  /** Where `email` came from. */
  emailSource?: 'user_name' | 'session_name' | 'on_behalf_of' | 'principal_id';
  /** MFA used for this session; undefined when the record does not say. */
  mfa?: boolean;
  sourceIp?: string;
  userAgent?: string;
  /** An AWS service acting on its own (type AWSService, invokedBy, or an AWS service IP like "AWS Internal"). */
  isAwsService: boolean;
  /** Matches one of the configured automation principal globs (CI roles, service accounts). */
  isAutomation: boolean;
  /** No human or role can be named (anonymous, unknown type, missing ARN and user name). */
  isUnattributable: boolean;
  /** Stable key for grouping calls by who made them (ARN of the user or role session, else name). */
  key: string;
}

export interface PrincipalOptions {
  /** ARN globs (`*` and `?`) of automation principals; matched against the ARN and the issuer ARN. */
  automation?: readonly string[];
}
