/** The `Store` interface: everything secbot keeps durably. `createDynamoStore` implements it. */
import type { RuleStage } from '../rules/types.js';
import type {
  AccountActivity,
  AddAlertCallResult,
  AddNotifyCallResult,
  AlertBurst,
  AlertItem,
  AlertPatch,
  AlertState,
  BurstCall,
  ChannelStatus,
  ClaimResult,
  Counters,
  DecisionSummary,
  DmStatus,
  DrainRun,
  EventClaim,
  Incident,
  IncidentState,
  MessageRef,
  NewAlert,
  NewIncident,
  NewSilence,
  RemediationChange,
  RuleEngineers,
  RuleStageOverride,
  Silence,
  Verification,
  VerificationCall,
  VerificationPatch,
  VerificationState,
} from './types.js';

/** The alert's channel post, stored in the same write as its page's outcome (`markPageSent`, `recordPageFailure`). */
export interface ChannelOutcome {
  channelMessage?: MessageRef;
  channelStatus: ChannelStatus;
}

export { createDynamoStore, type DynamoStoreOptions } from './dynamo-store.js';

export interface TransitionInput {
  /** The states the change applies to; anything else loses with `AlreadyDecidedError`. */
  from: readonly VerificationState[];
  to: VerificationState;
  /** Who: a Slack user id, `duo`, `sweep`, `secbot`. */
  by: string;
  reason: string;
  at: Date;
  /** Fields written in the same conditional update (intent before side effect). */
  set?: VerificationPatch;
  /** Also require this callCount (the engineer answered the calls they were shown). */
  expectCallCount?: number;
}

export interface VerificationUpdate {
  set: VerificationPatch;
  at: Date;
  /** Conditions; a change that does not meet them throws `AlreadyDecidedError`. */
  when?: {
    state?: readonly VerificationState[];
    dmStatus?: readonly DmStatus[];
    callCount?: number;
    /** Unchanged since this read (an exclusive claim where the other conditions cannot tell two claimers apart). */
    updatedAt?: string;
  };
}

export interface AlertUpdate {
  set: AlertPatch;
  at: Date;
  when?: { state?: readonly AlertState[]; channelStatus?: readonly ChannelStatus[] };
}

/**
 * Durable state for the drain, the verification workflow, alerts, silences and metrics.
 * Every state change is one conditional write: the loser of a race gets `AlreadyDecidedError`
 * (or a `'duplicate'`/`'busy'` answer) and must not perform the side effect.
 * Any other DynamoDB failure surfaces as `StoreError` (code `store_unavailable`).
 */
export interface Store {
  readonly tableName: string;

  // --- event claims: delivery dedupe ------------------------------------------------------------
  /**
   * Claim a CloudTrail eventID for `leaseMs`. `'claimed'`: decide it, then `completeEvent`.
   * `'duplicate'`: already decided — delete the message. `'busy'`: another drainer holds a live
   * lease — leave the message for redelivery. An expired lease is taken over.
   *
   * @example
   * if ((await store.claimEvent(r.eventID, replicaId, 60_000)) !== 'claimed') continue;
   */
  claimEvent(eventId: string, owner: string, leaseMs: number, now?: Date): Promise<ClaimResult>;
  /** `claimEvent` for a batch: one BatchGetItem pre-filters decided ids, then conditional claims. */
  claimEvents(
    eventIds: readonly string[],
    owner: string,
    leaseMs: number,
    now?: Date,
  ): Promise<Map<string, ClaimResult>>;
  /** Store the decision and mark the event decided. Throws `ClaimLostError` if another owner holds it. */
  completeEvent(eventId: string, owner: string, decision: DecisionSummary, now?: Date): Promise<EventClaim>;
  /**
   * The drain's pre-filter, without claiming: `'duplicate'` for decided ids, `'busy'` for ids another
   * drainer holds under a live claim; ids not in the map are free (one BatchGetItem per 100 ids).
   */
  checkEvents(eventIds: readonly string[], owner: string, now?: Date): Promise<Map<string, ClaimResult>>;
  /**
   * Mark events decided with their decisions, 25 per BatchWriteItem (unconditional: what must happen
   * once — a call joining a verification, an alert — is a conditional write of its own).
   */
  recordDecisions(
    entries: readonly { eventId: string; owner: string; decision: DecisionSummary }[],
    now?: Date,
  ): Promise<void>;
  /** Give up a claim we hold (decision failed) so a redelivery can retry at once. */
  releaseEvent(eventId: string, owner: string): Promise<boolean>;
  getEventClaim(eventId: string, now?: Date): Promise<EventClaim | undefined>;

  // --- verifications ----------------------------------------------------------------------------
  /**
   * Add a notify call for an engineer: it joins their OPEN verification, or opens a new one (with
   * `deadline`) when there is none. Safe across replicas; the same eventID joins once.
   */
  addNotifyCall(
    engineerKey: string,
    call: VerificationCall,
    opts: { now: Date; deadline: Date },
  ): Promise<AddNotifyCallResult>;
  /**
   * `addNotifyCall` for several calls of one engineer: fewer writes, the same guarantees call by call.
   * `verificationId` hints where this engineer's calls last joined. Results follow the order of `calls`.
   */
  addNotifyCalls(
    engineerKey: string,
    calls: readonly VerificationCall[],
    opts: { now: Date; deadline: Date; verificationId?: string; deferCallItems?: boolean },
  ): Promise<AddNotifyCallResult[]>;
  /**
   * The call items of `addNotifyCalls(…, { deferCallItems: true })`, 25 to a BatchWriteItem: written by
   * its caller with the rest of its batch, before it counts the calls as stored.
   */
  putVerificationCalls(
    entries: readonly { verificationId: string; call: VerificationCall }[],
    now: Date,
  ): Promise<void>;
  getVerification(id: string): Promise<Verification | undefined>;
  /** The engineer's OPEN verification, if any. */
  findOpenVerification(engineerKey: string): Promise<Verification | undefined>;
  /** The engineer's own verifications, newest first (default 10). */
  listEngineerVerifications(engineerKey: string, opts?: { limit?: number }): Promise<Verification[]>;
  /** Every call of a verification, in event-time order. */
  listVerificationCalls(id: string, opts?: { limit?: number }): Promise<VerificationCall[]>;
  /**
   * Verifications in a state via gsi1, oldest deadline first (OPEN / DUO_PENDING) or oldest closing
   * first (closed states). `dueBefore`: only those whose deadline (or closing) is at or before it.
   */
  listVerifications(
    state: VerificationState,
    opts?: { dueBefore?: Date; limit?: number; newestFirst?: boolean },
  ): Promise<Verification[]>;
  /**
   * One conditional update from `from` to `to`, appending to history; releases the engineer's lock
   * when leaving OPEN. Returns the new verification. Throws `AlreadyDecidedError` when it lost.
   */
  transitionVerification(id: string, input: TransitionInput): Promise<Verification>;
  /** A conditional update that does not change the state (DM intent, DM reference, needsUpdate…). */
  updateVerification(id: string, input: VerificationUpdate): Promise<Verification>;
  /**
   * Delete an OPEN verification that never became the engineer's open verification: its creator died
   * between writing it and taking the engineer's lock (or lost the lock and died before deleting it).
   * Only while it is still unlocked and unsent; false when it was locked, sent or is gone.
   */
  discardUnlockedVerification(id: string): Promise<boolean>;

  // --- alerts -----------------------------------------------------------------------------------
  /** Create the alert unless it exists (idempotent); returns the stored alert either way. */
  createAlert(input: NewAlert): Promise<{ alert: AlertItem; created: boolean }>;
  /** Alert calls of one burst join its open alert, or open it (store/alerts.ts `addAlertCalls`). */
  addAlertCalls(
    burst: AlertBurst,
    calls: readonly BurstCall[],
    opts: { now: Date; seq?: number; redelivered?: boolean },
  ): Promise<{ results: AddAlertCallResult[]; seq: number }>;
  /** Close a burst alert to joins before it is posted and paged; returns it as sealed. */
  sealAlert(id: string, at: Date): Promise<AlertItem>;
  getAlert(id: string): Promise<AlertItem | undefined>;
  /** Several alerts, strongly consistent (one BatchGetItem per 100); missing ones are left out. */
  getAlerts(ids: readonly string[]): Promise<AlertItem[]>;
  /** Alerts whose page is pending and due at `now`, oldest first. */
  listDuePages(now: Date, limit?: number): Promise<AlertItem[]>;
  /** Alerts in a state, newest first (including those whose page is still pending). */
  listAlerts(state: AlertState, opts?: { limit?: number }): Promise<AlertItem[]>;
  /** Mark the page delivered; false when it was not pending (someone else marked it). */
  markPageSent(id: string, at: Date, channel?: ChannelOutcome): Promise<boolean>;
  /** Count a failed page and schedule the next attempt; false when it was not pending. */
  recordPageFailure(
    id: string,
    failure: { at: Date; error: string; nextAttemptAt: Date },
    channel?: ChannelOutcome,
  ): Promise<boolean>;
  /** OPEN → ACKNOWLEDGED. Throws `AlreadyDecidedError` otherwise. */
  acknowledgeAlert(id: string, by: string, at?: Date): Promise<AlertItem>;
  /** OPEN | ACKNOWLEDGED → RESOLVED. Throws `AlreadyDecidedError` otherwise. */
  resolveAlert(id: string, by: string, at?: Date, reason?: string): Promise<AlertItem>;
  /** A conditional update that does not change the state (channel message intent and reference). */
  updateAlert(id: string, input: AlertUpdate): Promise<AlertItem>;
  /**
   * One conditional change of one of an alert's remediations (claim, Duo approved, done, failed,
   * released). Returns the alert as written; throws `AlreadyDecidedError` when it lost.
   */
  transitionRemediation(
    alertId: string,
    remediationId: string,
    change: RemediationChange,
  ): Promise<AlertItem>;

  // --- silences ---------------------------------------------------------------------------------
  createSilence(input: NewSilence): Promise<Silence>;
  getSilence(id: string, now?: Date): Promise<Silence | undefined>;
  /** Silences not deleted whose expiry is after `now`. */
  listActiveSilences(now: Date): Promise<Silence[]>;
  /** Ends a silence (kept for the record until its TTL). Throws `NotFoundError` if none is active. */
  deleteSilence(id: string, by: string, at?: Date): Promise<Silence>;
  /** Count a call the silence lowered; false when the silence no longer exists. */
  recordSilenceHit(id: string, at?: Date): Promise<boolean>;

  // --- metrics and run state ----------------------------------------------------------------------
  /** Atomically add to named counters of one day (`YYYY-MM-DD`). */
  incrementCounters(day: string, counts: Counters): Promise<void>;
  /** The counters of the given days, summed by name. */
  readCounters(days: readonly string[]): Promise<Counters>;
  /** Record a drain run; an older run never overwrites a newer one. */
  recordDrainRun(run: {
    at: Date;
    received: number;
    decided: number;
    errors: number;
    durationMs: number;
  }): Promise<void>;
  lastDrainRun(): Promise<DrainRun | undefined>;
  /** Take or renew a named lease (e.g. one drain at a time across replicas). */
  acquireLease(name: string, owner: string, leaseMs: number, now?: Date): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<boolean>;

  // --- watching the watcher (store/watch.ts) --------------------------------------------------------
  /** Move an account's last heartbeat / last decided call forward (never back). */
  recordAccountActivity(
    account: string,
    activity: { heartbeatAt?: Date; heartbeatRegion?: string; eventAt?: Date },
    now: Date,
  ): Promise<void>;
  /** Every account secbot has heard from. */
  listAccounts(): Promise<AccountActivity[]>;
  /** Add to an account's lag histogram (eventTime → decision) for a day (`YYYY-MM-DD`). */
  addAccountLag(account: string, day: string, counts: Counters): Promise<void>;
  /** Every account's lag histogram over the days, summed. */
  readAccountLag(days: readonly string[]): Promise<Map<string, Counters>>;
  /** Open an incident unless one stands under its key; `opened` says whether this call opened it. */
  openIncident(input: NewIncident): Promise<{ incident: Incident; opened: boolean }>;
  getIncident(key: string): Promise<Incident | undefined>;
  /** Every incident's latest state (one per key). */
  listIncidents(): Promise<Incident[]>;
  /** A conditional update of an incident; undefined when the condition failed (someone else moved it). */
  updateIncident(
    key: string,
    input: {
      seq: number;
      from: readonly IncidentState[];
      followUpFrom?: readonly (Incident['followUp'] | 'none')[];
      followUpUpdatedAt?: string;
      set: Partial<
        Pick<
          Incident,
          'state' | 'alerted' | 'recoveredAt' | 'recoveryDetail' | 'followUp' | 'pagerResolved' | 'closedAt'
        >
      >;
      at: Date;
    },
  ): Promise<Incident | undefined>;

  // --- staged rules (store/rule-stages.ts) --------------------------------------------------------
  /** Staff override of a rule file's stage. */
  setRuleStage(ruleId: string, input: { stage: RuleStage; by: string; at: Date }): Promise<RuleStageOverride>;
  listRuleStages(): Promise<RuleStageOverride[]>;
  /** Engineers a rule asked (live) or would have asked (staged) on a day; sets, bounded. */
  addRuleEngineers(
    day: string,
    ruleId: string,
    engineers: { asked?: readonly string[]; wouldAsk?: readonly string[] },
  ): Promise<void>;
  /** Distinct engineers per rule over the days. */
  readRuleEngineers(days: readonly string[]): Promise<Map<string, RuleEngineers>>;
}
