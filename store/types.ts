/** The store's domain vocabulary: what secbot keeps in its table, as the rest of the app sees it. */
import type { RemediationGap, RemediationPlan } from '../remediation/types.js';
import type { Action, RuleStage } from '../rules/types.js';

/** Timestamps in domain objects are ISO-8601 strings (UTC, `Date#toISOString`), so they sort as text. */
export type IsoTime = string;

// ---------------------------------------------------------------------------------------------------
// Event claims (delivery dedupe)

/** What `claimEvent` found: we own the record now, it was decided already, or someone else holds it. */
export type ClaimResult = 'claimed' | 'duplicate' | 'busy';

/** The decision stored on a claimed event once it is durable. */
export interface DecisionSummary {
  action: Action;
  ruleIds: string[];
  reason?: string;
  verificationId?: string;
  alertId?: string;
  /** Silences that lowered the decision, if any. */
  silenceIds?: string[];
}

/** One CloudTrail `eventID`, claimed by a drainer (two-phase: `claimed` under a lease, then `decided`). */
export interface EventClaim {
  eventId: string;
  status: 'claimed' | 'decided';
  claimedBy: string;
  claimedAt: IsoTime;
  /** While `claimed`: when the lease runs out and another drainer may take the record over. */
  leaseUntil?: IsoTime;
  /** How many times the record was claimed (1 + takeovers). */
  attempts: number;
  decidedAt?: IsoTime;
  decision?: DecisionSummary;
}

// ---------------------------------------------------------------------------------------------------
// Verifications

export type VerificationState = 'OPEN' | 'DUO_PENDING' | 'CONFIRMED' | 'ESCALATED';
export const VERIFICATION_STATES: readonly VerificationState[] = [
  'OPEN',
  'DUO_PENDING',
  'CONFIRMED',
  'ESCALATED',
];
/** States a verification never leaves. */
export const TERMINAL_VERIFICATION_STATES: readonly VerificationState[] = ['CONFIRMED', 'ESCALATED'];

/** Where the DM for a verification stands. `sending` is written before the Slack call (intent first). */
export type DmStatus = 'pending' | 'sending' | 'sent' | 'failed';

/** A Slack message reference. */
export interface MessageRef {
  channel: string;
  ts: string;
}

/** One state change, appended to an item's `history`. */
export interface Transition<S extends string = VerificationState> {
  from: S;
  to: S;
  at: IsoTime;
  /** Who caused it: a Slack user id, `duo`, `sweep`, `secbot`… */
  by: string;
  reason: string;
}

/** The short summary of one call kept under a verification (enough to render it; not the record). */
export interface VerificationCall {
  eventId: string;
  eventName: string;
  eventSource: string;
  eventTime: IsoTime;
  account?: string;
  region?: string;
  ruleIds: string[];
  action: Action;
  reason?: string;
  /** One line for humans, e.g. "CreateAccessKey for user deploy-bot". */
  summary?: string;
  /** Who made the call, as shown to humans (ARN or display name). */
  principal?: string;
  /** What the call acted on, in words ("user build-bot", "bucket logs"). */
  resource?: string;
  sourceIp?: string;
  userAgent?: string;
  /** How the principal was matched to the engineer (identity map, email, email domain, principal). */
  matchedBy?: 'map' | 'email' | 'domain' | 'principal';
  /**
   * The remediations this call would offer if its verification escalates (kept on the call item only,
   * not in the header's preview): the inverse its rules name and the quarantine of its principal.
   */
  remediations?: RemediationPlan[];
  remediationGaps?: RemediationGap[];
}

/** One question to one engineer, covering every call they made while it was open. */
export interface Verification {
  id: string;
  /** Who is asked: a Slack user id, or for now the principal key or e-mail. */
  engineerKey: string;
  state: VerificationState;
  createdAt: IsoTime;
  updatedAt: IsoTime;
  /** The engineer must answer by then (OPEN), or Duo must have answered (DUO_PENDING). */
  deadline: IsoTime;
  callCount: number;
  /** Every eventID that joined, in event-time order. The header is the authority on membership. */
  eventIds: string[];
  /** The first few calls (see `PREVIEW_CALLS`); all of them via `listVerificationCalls`. */
  preview: VerificationCall[];
  lastCallAt: IsoTime;
  history: Transition[];
  dm?: MessageRef;
  dmStatus: DmStatus;
  dmError?: string;
  /** New calls joined since the DM was last rendered. */
  needsUpdate: boolean;
  duoTxid?: string;
  duoStartedAt?: IsoTime;
  duoResult?: string;
  escalationReason?: string;
  /** Set when the verification reaches CONFIRMED or ESCALATED. */
  closedAt?: IsoTime;
}

/** Fields a caller may set together with a transition or a plain update. Dates may be given as Date. */
export interface VerificationPatch {
  deadline?: Date | IsoTime;
  dm?: MessageRef;
  dmStatus?: DmStatus;
  dmError?: string;
  needsUpdate?: boolean;
  duoTxid?: string;
  duoStartedAt?: Date | IsoTime;
  duoResult?: string;
  escalationReason?: string;
}

/** What `addNotifyCall` did with the call. */
export interface AddNotifyCallResult {
  verificationId: string;
  /** True when the call opened a new verification (the caller sends the DM). */
  created: boolean;
  /** True when this eventID had already joined that verification (nothing changed). */
  duplicate: boolean;
}

// ---------------------------------------------------------------------------------------------------
// Alerts

/** `watchdog`: secbot's own health (README "Watching the watcher"), id `a_wd_<incident>_<seq>`. */
export type AlertKind = 'call' | 'escalation' | 'watchdog';
export type AlertState = 'OPEN' | 'ACKNOWLEDGED' | 'RESOLVED';
/** PagerDuty Events v2 severities. */
export type AlertSeverity = 'critical' | 'error' | 'warning' | 'info';
export type PageStatus = 'pending' | 'sent';
export type ChannelStatus = 'pending' | 'sending' | 'sent' | 'failed';

/** Something the security team is told about; its id is the PagerDuty `dedup_key`. */
export interface AlertItem {
  /** `a_<eventID>` for a single call, `a_<verificationId>` for an escalated verification. */
  id: string;
  kind: AlertKind;
  verificationId?: string;
  engineerKey?: string;
  severity: AlertSeverity;
  summary: string;
  eventIds: string[];
  ruleIds: string[];
  reasons: string[];
  /** False: channel only, PagerDuty is not called (the outbox entry is still marked sent by the sweep). */
  page: boolean;
  state: AlertState;
  createdAt: IsoTime;
  updatedAt: IsoTime;
  pageStatus: PageStatus;
  pageAttempts: number;
  lastError?: string;
  lastAttemptAt?: IsoTime;
  /** While `pageStatus` is `pending`: when the sweep should (re)try the page. */
  nextAttemptAt?: IsoTime;
  pageSentAt?: IsoTime;
  channelMessage?: MessageRef;
  /** Permalink of the channel message, for the page's links. */
  channelLink?: string;
  channelStatus: ChannelStatus;
  history: Transition<AlertState>[];
  acknowledgedBy?: string;
  resolvedBy?: string;
  /** One-click remediations staff may run from the channel alert, in the order shown (`r1`, `r2`, …). */
  remediations?: AlertRemediation[];
  /** Remediations a rule names that these calls cannot support, with the reason (shown on the alert). */
  remediationGaps?: RemediationGap[];
  /** An alert burst's: the alert calls of one principal close in time (store `addAlertCalls`). */
  burst?: boolean;
  /** When the outbox sealed the burst (no call joins after it); absent while it still takes calls. */
  sealed?: IsoTime;
}

/**
 * Where one remediation stands. `available → running` is one conditional write (the claim): a second
 * press or a second replica loses and does nothing. `running` has a phase: `duo` (waiting for the
 * staff member's push; nothing called yet, so it goes back to `available` on a deny) and `executing`
 * (written before AWS is called). `done` and `failed` are final: a remediation runs once.
 */
export type RemediationStatus = 'available' | 'running' | 'done' | 'failed';
export const REMEDIATION_STATUSES: readonly RemediationStatus[] = ['available', 'running', 'done', 'failed'];

export interface AlertRemediation {
  /** `r1`, `r2`, … in the order shown; stable for the alert's life (the button value names it). */
  id: string;
  plan: RemediationPlan;
  status: RemediationStatus;
  phase?: 'duo' | 'executing';
  /** Who pressed (the current or final run). */
  by?: string;
  startedAt?: IsoTime;
  finishedAt?: IsoTime;
  /** What AWS answered, in words (done), or why it failed (failed). */
  outcome?: string;
  /** The AWS request id of the call, for the account's CloudTrail. */
  requestId?: string;
  /** How many presses got as far as a claim. */
  attempts: number;
  /** The last press that did not run it (Duo denied, AssumeRole refused, a shadow run). */
  lastAttempt?: { by: string; at: IsoTime; result: string };
}

/** A change to one remediation; `null` removes a field. */
export interface RemediationChange {
  /** The statuses the change applies to; anything else loses with `AlreadyDecidedError`. */
  from: readonly RemediationStatus[];
  to: RemediationStatus;
  /** Also require this phase / this presser (the run we started is still ours). */
  expectPhase?: 'duo' | 'executing';
  expectBy?: string;
  /** Also take over a run stuck in the Duo phase since before this time (its presser's process died). */
  staleDuoBefore?: Date;
  /** The alert must be in one of these states (claims are refused on resolved alerts). */
  alertStates?: readonly AlertState[];
  set: {
    phase?: 'duo' | 'executing' | null;
    by?: string | null;
    startedAt?: Date | null;
    finishedAt?: Date | null;
    outcome?: string | null;
    requestId?: string | null;
    lastAttempt?: { by: string; at: Date; result: string } | null;
  };
  /** Count this as a new attempt (the claim). */
  countAttempt?: boolean;
  at: Date;
}

export type NewAlert = (
  | { kind: 'call'; eventId: string; verificationId?: undefined }
  | { kind: 'escalation'; verificationId: string; eventId?: undefined }
  | { kind: 'watchdog'; alertId: string; eventId?: undefined; verificationId?: undefined }
) & {
  severity: AlertSeverity;
  summary: string;
  /** Defaults to `[eventId]` for a call alert. */
  eventIds?: string[];
  ruleIds?: string[];
  reasons: string[];
  engineerKey?: string;
  /** Default true; false for channel-only alerts. */
  page?: boolean;
  /** Remediations to offer (each becomes `available`), and the ones that cannot be. */
  remediations?: RemediationPlan[];
  remediationGaps?: RemediationGap[];
  at: Date;
};

/**
 * An alert burst: alert calls with the same key share one alert (up to MAX_BURST_CALLS, until it is
 * sent). The key names the principal, account, severity, paging and time window; it is made from the
 * record alone (handlers/alert-bursts.ts), so a redelivered call has the same key.
 */
export interface AlertBurst {
  key: string;
  /** The window's start (ISO time): part of the alert id, for people reading ids. */
  windowStart: IsoTime;
  severity: AlertSeverity;
  page: boolean;
  engineerKey?: string;
}

/** One call of an alert burst. */
export interface BurstCall {
  eventId: string;
  eventTime: string;
  summary: string;
  ruleIds: string[];
  reasons: string[];
  /** The call's one-click remediations; a plan two calls share is offered once. */
  remediations?: RemediationPlan[];
  remediationGaps?: RemediationGap[];
}

export interface AddAlertCallResult {
  alertId: string;
  /** This call opened the alert. */
  created: boolean;
  /** The call was already in the alert (a redelivery, or another drainer's join). */
  duplicate: boolean;
}

export interface AlertPatch {
  channelMessage?: MessageRef;
  channelLink?: string;
  channelStatus?: ChannelStatus;
  summary?: string;
}

// ---------------------------------------------------------------------------------------------------
// Silences

export type SilenceSelectorKind = 'rule' | 'event' | 'principal' | 'user' | 'account';
export const SILENCE_SELECTOR_KINDS: readonly SilenceSelectorKind[] = [
  'rule',
  'event',
  'principal',
  'user',
  'account',
];

export interface SilenceSelector {
  kind: SilenceSelectorKind;
  value: string;
}

/** A staff decision to lower matching calls to log until `expiresAt`. */
export interface Silence {
  id: string;
  selector: SilenceSelector;
  reason: string;
  createdBy: string;
  createdAt: IsoTime;
  expiresAt: IsoTime;
  hits: number;
  lastHitAt?: IsoTime;
  deletedAt?: IsoTime;
  deletedBy?: string;
}

export interface NewSilence {
  selector: SilenceSelector;
  reason: string;
  createdBy: string;
  expiresAt: Date;
  /** Defaults to the current time. */
  now?: Date;
}

// ---------------------------------------------------------------------------------------------------
// Counters and run state

/** Named counts, e.g. `decided.notify`, `rule.<id>.notify`, `verification.confirmed`. */
export type Counters = Record<string, number>;

export interface DrainRun {
  at: IsoTime;
  received: number;
  decided: number;
  errors: number;
  durationMs: number;
}

// ---------------------------------------------------------------------------------------------------
// Watching the watcher: accounts' heartbeats and events, and watchdog incidents

/** What secbot last heard from one monitored account. */
export interface AccountActivity {
  account: string;
  /** The latest heartbeat's schedule time (its `time`), and the region it came from. */
  lastHeartbeatAt?: IsoTime;
  lastHeartbeatRegion?: string;
  /** The latest `eventTime` of a CloudTrail call from the account that secbot decided. */
  lastEventAt?: IsoTime;
  /** When the item was last written (a drain run that heard from the account). */
  updatedAt?: IsoTime;
}

/** What the watchdog watches (README "Watching the watcher"). */
export type IncidentKind = 'heartbeat' | 'queue_age' | 'dead_letter' | 'drain_failing';
export const INCIDENT_KINDS: readonly IncidentKind[] = [
  'heartbeat',
  'queue_age',
  'dead_letter',
  'drain_failing',
];

/**
 * `OPEN` (alerted once) → `RECOVERING` (the condition cleared; the follow-up message and, for a page,
 * the PagerDuty resolve are being sent) → `CLOSED`. A closed incident's key may open again: a new
 * incident (`seq` + 1) with a new alert.
 */
export type IncidentState = 'OPEN' | 'RECOVERING' | 'CLOSED';

/** One watchdog condition, from when it was seen until it recovered. Its alert id is the dedup_key. */
export interface Incident {
  /** `heartbeat:<account>`, `queue_age`, `dead_letter`, `drain_failing`. */
  key: string;
  kind: IncidentKind;
  /** The account, for a heartbeat. */
  subject?: string;
  state: IncidentState;
  /** 1 for the key's first incident, then one more each time it opens again. */
  seq: number;
  alertId: string;
  /** The alert was created (false only between the incident's write and the alert's). */
  alerted: boolean;
  /** Pages PagerDuty (a missing heartbeat); otherwise the channel only. */
  page: boolean;
  openedAt: IsoTime;
  /** What was seen, in words. */
  detail: string;
  recoveredAt?: IsoTime;
  recoveryDetail?: string;
  /** The recovery message in the channel: intent (`sending`) is written before the Slack call. */
  followUp?: 'pending' | 'sending' | 'sent';
  followUpUpdatedAt?: IsoTime;
  /** PagerDuty was told to resolve the page (only when a page was sent). */
  pagerResolved?: boolean;
  closedAt?: IsoTime;
  updatedAt: IsoTime;
}

export interface NewIncident {
  key: string;
  kind: IncidentKind;
  subject?: string;
  detail: string;
  page: boolean;
  at: Date;
}

// ---------------------------------------------------------------------------------------------------
// Staged rules

/** A staff decision (`/secbot promote | demote`) that overrides a rule file's stage. */
export interface RuleStageOverride {
  ruleId: string;
  stage: RuleStage;
  by: string;
  at: IsoTime;
}

/** Distinct engineers per rule over some days: asked (live) and would have been asked (staged). */
export interface RuleEngineers {
  asked: Set<string>;
  wouldAsk: Set<string>;
  /** A day's set reached its cap: the count is at least what is shown. */
  capped: boolean;
}
