/** `createDynamoStore`: the `Store` over one DynamoDB table (see schema.ts for the layout). */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import * as alerts from './alerts.js';
import { DEFAULT_RETENTION, type Retention, type StoreContext } from './context.js';
import * as events from './events.js';
import * as metrics from './metrics.js';
import * as remediations from './remediations.js';
import * as ruleStages from './rule-stages.js';
import * as silences from './silences.js';
import type { Store } from './store.js';
import * as verifications from './verifications.js';
import * as watch from './watch.js';

export interface DynamoStoreOptions {
  tableName: string;
  /** Injected client (tests, the embedded table); otherwise one is made from region / endpoint. */
  client?: DynamoDBClient;
  region?: string;
  endpoint?: string;
  /** Static credentials (the embedded table); otherwise the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  logger?: Logger;
  retention?: Partial<Retention>;
}

/**
 * The DynamoDB store. Throttling is retried by the SDK's standard retry strategy (5 attempts for the
 * client made here); every other failure surfaces as `StoreError`.
 *
 * @example
 * const store = createDynamoStore({ tableName: 'secbot', region: 'eu-west-1' });
 * await ensureTable(client, 'secbot');
 * if ((await store.claimEvent(record.eventID, replicaId, 60_000)) === 'claimed') { … }
 */
export function createDynamoStore(options: DynamoStoreOptions): Store {
  const client =
    options.client ??
    new DynamoDBClient({
      region: options.region,
      endpoint: options.endpoint,
      credentials: options.credentials,
      maxAttempts: 5,
    });
  const ctx: StoreContext = {
    client,
    table: options.tableName,
    logger: options.logger,
    retention: { ...DEFAULT_RETENTION, ...options.retention },
  };
  return {
    tableName: options.tableName,

    claimEvent: (eventId, owner, leaseMs, now) => events.claimEvent(ctx, eventId, owner, leaseMs, now),
    claimEvents: (eventIds, owner, leaseMs, now) => events.claimEvents(ctx, eventIds, owner, leaseMs, now),
    completeEvent: (eventId, owner, decision, now) =>
      events.completeEvent(ctx, eventId, owner, decision, now),
    checkEvents: (eventIds, owner, now) => events.checkEvents(ctx, eventIds, owner, now),
    recordDecisions: (entries, now) => events.recordDecisions(ctx, entries, now),
    releaseEvent: (eventId, owner) => events.releaseEvent(ctx, eventId, owner),
    getEventClaim: (eventId, now) => events.getEventClaim(ctx, eventId, now),

    addNotifyCall: (engineerKey, c, opts) => verifications.addNotifyCall(ctx, engineerKey, c, opts),
    addNotifyCalls: (engineerKey, calls, opts) => verifications.addNotifyCalls(ctx, engineerKey, calls, opts),
    putVerificationCalls: (entries, now) => verifications.putVerificationCalls(ctx, entries, now),
    getVerification: (id) => verifications.getVerification(ctx, id),
    findOpenVerification: (engineerKey) => verifications.findOpenVerification(ctx, engineerKey),
    listEngineerVerifications: (engineerKey, opts) =>
      verifications.listEngineerVerifications(ctx, engineerKey, opts),
    listVerificationCalls: (id, opts) => verifications.listVerificationCalls(ctx, id, opts),
    listVerifications: (state, opts) => verifications.listVerifications(ctx, state, opts),
    transitionVerification: (id, input) => verifications.transitionVerification(ctx, id, input),
    updateVerification: (id, input) => verifications.updateVerification(ctx, id, input),
    discardUnlockedVerification: (id) => verifications.discardUnlockedVerification(ctx, id),

    createAlert: (input) => alerts.createAlert(ctx, input),
    addAlertCalls: (burst, calls, opts) => alerts.addAlertCalls(ctx, burst, calls, opts),
    sealAlert: (id, at) => alerts.sealAlert(ctx, id, at),
    getAlert: (id) => alerts.getAlert(ctx, id),
    listDuePages: (now, limit) => alerts.listDuePages(ctx, now, limit),
    listAlerts: (state, opts) => alerts.listAlerts(ctx, state, opts),
    getAlerts: (ids) => alerts.getAlerts(ctx, ids),
    markPageSent: (id, at, channel) => alerts.markPageSent(ctx, id, at, channel),
    recordPageFailure: (id, failure, channel) => alerts.recordPageFailure(ctx, id, failure, channel),
    acknowledgeAlert: (id, by, at) => alerts.acknowledgeAlert(ctx, id, by, at),
    resolveAlert: (id, by, at, reason) => alerts.resolveAlert(ctx, id, by, at, reason),
    updateAlert: (id, input) => alerts.updateAlert(ctx, id, input),
    transitionRemediation: (alertId, remediationId, change) =>
      remediations.transitionRemediation(ctx, alertId, remediationId, change),

    createSilence: (input) => silences.createSilence(ctx, input),
    getSilence: (id, now) => silences.getSilence(ctx, id, now),
    listActiveSilences: (now) => silences.listActiveSilences(ctx, now),
    deleteSilence: (id, by, at) => silences.deleteSilence(ctx, id, by, at),
    recordSilenceHit: (id, at) => silences.recordSilenceHit(ctx, id, at),

    incrementCounters: (day, counts) => metrics.incrementCounters(ctx, day, counts),
    readCounters: (days) => metrics.readCounters(ctx, days),
    recordDrainRun: (run) => metrics.recordDrainRun(ctx, run),
    lastDrainRun: () => metrics.lastDrainRun(ctx),
    acquireLease: (name, owner, leaseMs, now) => metrics.acquireLease(ctx, name, owner, leaseMs, now),
    releaseLease: (name, owner) => metrics.releaseLease(ctx, name, owner),

    recordAccountActivity: (account, activity, now) =>
      watch.recordAccountActivity(ctx, account, activity, now),
    listAccounts: () => watch.listAccounts(ctx),
    addAccountLag: (account, day, counts) => watch.addAccountLag(ctx, account, day, counts),
    readAccountLag: (days) => watch.readAccountLag(ctx, days),
    openIncident: (input) => watch.openIncident(ctx, input),
    getIncident: (key) => watch.getIncident(ctx, key),
    listIncidents: () => watch.listIncidents(ctx),
    updateIncident: (key, input) => watch.updateIncident(ctx, key, input),

    setRuleStage: (ruleId, input) => ruleStages.setRuleStage(ctx, ruleId, input),
    listRuleStages: () => ruleStages.listRuleStages(ctx),
    addRuleEngineers: (day, ruleId, engineers) => ruleStages.addRuleEngineers(ctx, day, ruleId, engineers),
    readRuleEngineers: (days) => ruleStages.readRuleEngineers(ctx, days),
  };
}
