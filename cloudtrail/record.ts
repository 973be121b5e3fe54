/** The CloudTrail record shape secbot relies on, and the typed result of decoding one. */

/** Any JSON value, as found in a record's `requestParameters` and the like. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

export interface UserIdentity {
  type?: string;
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  userName?: string;
  invokedBy?: string;
  identityProvider?: string;
  onBehalfOf?: { userId?: string; identityStoreArn?: string };
  sessionContext?: {
    sessionIssuer?: {
      type?: string;
      principalId?: string;
      arn?: string;
      accountId?: string;
      userName?: string;
    };
    attributes?: { mfaAuthenticated?: string; creationDate?: string };
    webIdFederationData?: { federatedProvider?: string; attributes?: Record<string, Json> };
    sourceIdentity?: string;
  };
  [key: string]: Json | undefined | object;
}

/**
 * One CloudTrail record, as in the `Records` array of a log file. Only the five fields the decoder
 * requires are guaranteed; everything else is optional because real records (and the corpus) vary.
 */
export interface CloudTrailRecord {
  eventID: string;
  eventName: string;
  eventSource: string;
  eventTime: string;
  userIdentity: UserIdentity;
  awsRegion?: string;
  sourceIPAddress?: string;
  userAgent?: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters?: { [key: string]: Json } | null;
  responseElements?: { [key: string]: Json } | null;
  additionalEventData?: { [key: string]: Json } | null;
  recipientAccountId?: string;
  readOnly?: boolean;
  eventType?: string;
  managementEvent?: boolean;
  [key: string]: unknown;
}

/** How a record reached us. */
export type Envelope = 'sns' | 'eventbridge' | 'record' | 'log_file';

/** Why an input was not accepted as CloudTrail. Stable strings: they appear in logs and metrics. */
export type DecodeFailureReason =
  | 'empty'
  | 'not_json'
  | 'too_large'
  | 'too_deep'
  | 'not_cloudtrail'
  | 'missing_field'
  | 'wrong_type';

export interface DecodeFailure {
  ok: false;
  reason: DecodeFailureReason;
  /** Human-readable detail, e.g. "missing eventID" or "detail-type 'EC2 Instance State-change'". */
  detail: string;
}

export interface DecodeSuccess {
  ok: true;
  envelope: Envelope;
  records: CloudTrailRecord[];
  /** Records inside an otherwise valid container (a log file) that were rejected, each with its reason. */
  invalid: DecodeFailure[];
  /**
   * Present (and then non-empty, with `records` empty) when the message is a collector's heartbeat
   * rather than CloudTrail: see `cloudtrail/decode.ts` and README "Watching the watcher".
   */
  heartbeats?: Heartbeat[];
}

/** A collector's "still here": the scheduled event each monitored account sends every few minutes. */
export interface Heartbeat {
  /** The 12-digit account that sent it. */
  account: string;
  /** When its schedule fired (the event's `time`), ISO-8601. */
  sentAt: string;
  region?: string;
  /** The EventBridge event id, when it has one. */
  id?: string;
}

export type DecodeResult = DecodeSuccess | DecodeFailure;
