/**
 * `/secbot status`: everything staff need to know whether secbot is doing its job, gathered in
 * parallel, each part bounded in time so one slow dependency cannot hold the answer. Never receives
 * from the queue (that would hide messages from the drain): queue figures are what SQS reports.
 */
import type { Logger } from 'pino';
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import type { QueueStats } from '../integrations/queue.js';
import type { RuleIssue } from '../rules/types.js';
import type { Store } from '../store/store.js';
import type { AlertItem, DrainRun, Incident, Verification } from '../store/types.js';
import { type AccountRow, gatherAccounts } from './accounts.js';

/** One integration's health as status shows it. */
export interface Health {
  state: 'ok' | 'problem' | 'not_configured';
  detail: string;
}

export interface StatusDeps {
  store: Store;
  queue: { stats(): Promise<QueueStats> };
  rules: { count: number; warnings: readonly RuleIssue[] };
  health: {
    /** auth.test and the alert channel's last answer. */
    slack(): Promise<Health>;
    /** Duo's /check, or not configured. */
    duo(): Promise<Health>;
    pagerDuty(): Health;
  };
  shadow: { on: boolean; reason?: string };
  version: string;
  audit: AuditTrail;
  logger: Logger;
  clock?: () => Date;
  /** Longest wait for any one part (default 4 s). */
  partTimeoutMs?: number;
  /** Accounts and the watchdog (README "Watching the watcher"); without it status does not show them. */
  watch?: { heartbeatLateMs: number; accountAliases?: Readonly<Record<string, string>> };
}

/** A part that could not be read comes back as its error, and the rest of the status still shows. */
export type Part<T> = { ok: true; value: T } | { ok: false; error: string };

/** How many open items status reads to count them (beyond that it says "more than"). */
export const STATUS_SCAN_LIMIT = 1000;

export interface StatusReport {
  at: string;
  queue: Part<QueueStats>;
  lastDrain: Part<DrainRun | undefined>;
  verifications: Part<{
    open: number;
    duoPending: number;
    /** The count reached STATUS_SCAN_LIMIT. */
    capped: boolean;
    /** Oldest first (by opening), at most 5. */
    oldest: Pick<Verification, 'id' | 'engineerKey' | 'createdAt' | 'deadline' | 'state' | 'callCount'>[];
  }>;
  alerts: Part<{
    open: number;
    acknowledged: number;
    pagesPending: number;
    capped: boolean;
    oldestOpen?: Pick<AlertItem, 'id' | 'createdAt' | 'severity'>;
  }>;
  silences: Part<{ active: number; absorbed: number; nextExpiry?: string }>;
  rules: { count: number; warnings: readonly RuleIssue[] };
  /** Each account's last heartbeat and last event, and its lag p50 / p95 (late heartbeats first). */
  accounts?: Part<AccountRow[]>;
  /** Watchdog incidents not yet closed. */
  watchdog?: Part<Incident[]>;
  integrations: { slack: Part<Health>; duo: Part<Health>; pagerDuty: Health };
  shadow: { on: boolean; reason?: string };
  version: string;
}

async function part<T>(what: string, ms: number, fn: () => Promise<T>, logger: Logger): Promise<Part<T>> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const value = await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
      }),
    ]);
    return { ok: true, value };
  } catch (err) {
    logger.warn({ err }, `status: ${what} could not be read`);
    return { ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

const byCreated = <T extends { createdAt: string }>(a: T, b: T) =>
  a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;

/**
 * Gather the status (audited: `status.viewed` with the staff member who asked).
 *
 * @example const report = await gatherStatus(deps, 'U0STAFF');
 */
export async function gatherStatus(deps: StatusDeps, actor: string): Promise<StatusReport> {
  const now = deps.clock?.() ?? new Date();
  const ms = deps.partTimeoutMs ?? 4_000;
  const { store, logger } = deps;
  // Started with the rest, awaited after: every part runs in parallel.
  const watch = deps.watch;
  const watchParts = watch
    ? Promise.all([
        part('accounts', ms, () => gatherAccounts(store, now, watch), logger),
        part(
          'watchdog',
          ms,
          async () => (await store.listIncidents()).filter((i) => i.state !== 'CLOSED'),
          logger,
        ),
      ])
    : undefined;
  const [queue, lastDrain, verifications, alerts, silences, slack, duo] = await Promise.all([
    part('queue', ms, () => deps.queue.stats(), logger),
    part('last drain', ms, () => store.lastDrainRun(), logger),
    part(
      'verifications',
      ms,
      async () => {
        const [open, pending] = await Promise.all([
          store.listVerifications('OPEN', { limit: STATUS_SCAN_LIMIT }),
          store.listVerifications('DUO_PENDING', { limit: STATUS_SCAN_LIMIT }),
        ]);
        return {
          open: open.length + pending.length,
          duoPending: pending.length,
          capped: open.length >= STATUS_SCAN_LIMIT || pending.length >= STATUS_SCAN_LIMIT,
          oldest: [...open, ...pending]
            .sort(byCreated)
            .slice(0, 5)
            .map((v) => ({
              id: v.id,
              engineerKey: v.engineerKey,
              createdAt: v.createdAt,
              deadline: v.deadline,
              state: v.state,
              callCount: v.callCount,
            })),
        };
      },
      logger,
    ),
    part(
      'alerts',
      ms,
      async () => {
        const [open, acked] = await Promise.all([
          store.listAlerts('OPEN', { limit: STATUS_SCAN_LIMIT }),
          store.listAlerts('ACKNOWLEDGED', { limit: STATUS_SCAN_LIMIT }),
        ]);
        const oldest = [...open].sort(byCreated)[0];
        return {
          open: open.length,
          acknowledged: acked.length,
          pagesPending: [...open, ...acked].filter((a) => a.page && a.pageStatus === 'pending').length,
          capped: open.length >= STATUS_SCAN_LIMIT || acked.length >= STATUS_SCAN_LIMIT,
          oldestOpen: oldest
            ? { id: oldest.id, createdAt: oldest.createdAt, severity: oldest.severity }
            : undefined,
        };
      },
      logger,
    ),
    part(
      'silences',
      ms,
      async () => {
        const active = await store.listActiveSilences(now);
        return {
          active: active.length,
          absorbed: active.reduce((n, s) => n + s.hits, 0),
          nextExpiry: active.map((s) => s.expiresAt).sort()[0],
        };
      },
      logger,
    ),
    part('Slack', ms, () => deps.health.slack(), logger),
    part('Duo', ms, () => deps.health.duo(), logger),
  ]);
  const [accounts, watchdog] = (await watchParts) ?? [undefined, undefined];
  deps.audit.write(
    auditEvent({
      action: 'status.viewed',
      outcome: 'success',
      category: ['configuration'],
      message: `${actor} viewed /secbot status`,
      actor,
      at: now,
    }),
  );
  return {
    at: now.toISOString(),
    queue,
    lastDrain,
    verifications,
    alerts,
    silences,
    rules: deps.rules,
    ...(accounts ? { accounts } : {}),
    ...(watchdog ? { watchdog } : {}),
    integrations: { slack, duo, pagerDuty: deps.health.pagerDuty() },
    shadow: deps.shadow,
    version: deps.version,
  };
}
