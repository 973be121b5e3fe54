/**
 * The watchdog: after each drain, is the path from the accounts to secbot alive? Four conditions, each
 * an incident in DynamoDB that alerts once and is cleared with a follow-up message when it recovers:
 *
 * | condition       | key                   | seen when                                                       | pages |
 * | --------------- | --------------------- | --------------------------------------------------------------- | ----- |
 * | heartbeat late  | `heartbeat:<account>` | an account that has sent heartbeats sent none for `heartbeatLateMs` | yes |
 * | queue behind    | `queue_age`           | the oldest message a drain received had waited over `queueAgeMs` | no    |
 * | dead letters    | `dead_letter`         | the dead-letter queue is not empty                              | no    |
 * | drain failing   | `drain_failing`       | `drainFailures` drain runs in a row failed                      | no    |
 *
 * Lifecycle: a condition seen → `openIncident` (a conditional write: absent or CLOSED) → the winner
 * creates a `watchdog` alert (the outbox: the sweep posts it and, for a heartbeat, pages with the alert
 * id as dedup_key, retrying until PagerDuty accepts). While OPEN nothing more is sent however many runs
 * see it. The condition cleared → OPEN → RECOVERING (conditional: one replica wins), the alert is
 * resolved, then a follow-up in the alert's thread (intent `sending` written first) and, if a page was
 * sent, PagerDuty resolve, retried on later runs until both are done → CLOSED. The key may open again.
 *
 * A condition the run cannot judge is left alone (neither opened nor cleared): heartbeats when the drain
 * failed or stopped before the queue was empty (newer heartbeats may still wait in it), the queue's age
 * when the drain failed, the dead-letter queue when its count cannot be read.
 */
import type { Logger } from 'pino';
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import type { Pager } from '../integrations/pagerduty.js';
import type { QueueStats } from '../integrations/queue.js';
import { AlreadyDecidedError, NotFoundError } from '../store/errors.js';
import type { Store } from '../store/store.js';
import type { AlertItem, AlertSeverity, Incident, IncidentKind } from '../store/types.js';
import { span } from '../views/status.js';
import type { DrainReport } from './drain.js';
import { recordCounters } from './metrics.js';
import type { Messenger } from './ports.js';

export interface WatchdogOptions {
  /** An account's heartbeat is late after this long (SECBOT_HEARTBEAT_LATE, default 15 min). */
  heartbeatLateMs: number;
  /** The queue is behind when a message waited longer than this (SECBOT_QUEUE_AGE_ALERT). */
  queueAgeMs: number;
  /** This many failed drain runs in a row is an incident (SECBOT_DRAIN_FAILURES). */
  drainFailures: number;
  /** How often the collectors send a heartbeat, for the alert's words (default 5 min). */
  heartbeatEveryMs?: number;
}

export const DEFAULT_WATCHDOG_OPTIONS: WatchdogOptions = {
  heartbeatLateMs: 15 * 60_000,
  queueAgeMs: 10 * 60_000,
  drainFailures: 3,
  heartbeatEveryMs: 5 * 60_000,
};

export interface WatchdogDeps {
  store: Store;
  queue: { stats(): Promise<QueueStats> };
  messenger: Messenger;
  pager: Pager;
  audit: AuditTrail;
  logger: Logger;
  clock?: () => Date;
  accountAliases?: Readonly<Record<string, string>>;
  options: WatchdogOptions;
}

/** What one drain run left for the watchdog to judge. */
export interface WatchdogInput {
  drain?: DrainReport;
  /** The drain threw (the table or queue unreachable at its start). */
  drainError?: unknown;
}

export interface WatchdogReport {
  opened: string[];
  recovered: string[];
  closed: string[];
  errors: number;
}

export interface Watchdog {
  run(input: WatchdogInput): Promise<WatchdogReport>;
  /** Failed drain runs in a row, as this process counted them. */
  failuresInARow(): number;
}

/** A condition as this run sees it: `bad` undefined means it cannot be judged now. */
interface Seen {
  key: string;
  kind: IncidentKind;
  subject?: string;
  bad: boolean | undefined;
  /** What is wrong (alert summary) or, when fine, what is now fine (follow-up). */
  detail: string;
  severity: AlertSeverity;
  page: boolean;
}

/** A follow-up stuck in `sending` this long (its sender died) is sent again. */
const STALE_FOLLOW_UP_MS = 120_000;

export const heartbeatKey = (account: string) => `heartbeat:${account}`;

export function createWatchdog(deps: WatchdogDeps): Watchdog {
  const clock = deps.clock ?? (() => new Date());
  const opts = deps.options;
  let failures = 0;
  let lastError = '';
  const named = (account: string) => {
    const alias = deps.accountAliases?.[account];
    return alias ? `${account} (${alias})` : account;
  };

  async function conditions(input: WatchdogInput, now: Date): Promise<Seen[]> {
    const d = input.drain;
    const failed = input.drainError !== undefined || !d || d.stoppedBy === 'error' || d.errors > 0;
    failures = failed ? failures + 1 : 0;
    if (failed) {
      lastError =
        input.drainError !== undefined
          ? ((input.drainError as Error)?.message ?? String(input.drainError))
          : `${d?.errors ?? 0} error(s) in the last run${d?.stoppedBy === 'error' ? ' (the queue could not be read)' : ''}`;
    }
    const seen: Seen[] = [
      {
        key: 'drain_failing',
        kind: 'drain_failing',
        bad: failures >= opts.drainFailures ? true : failed ? undefined : false,
        detail: failed
          ? `The drain has failed ${failures} runs in a row (last: ${lastError}): CloudTrail calls are not being decided. Check the logs and \`secbot doctor\`.`
          : 'The drain runs without errors again.',
        severity: 'error',
        page: false,
      },
    ];

    let stats: QueueStats | undefined;
    try {
      stats = await deps.queue.stats();
    } catch (err) {
      deps.logger.warn({ err }, 'watchdog: the queue counts could not be read');
    }
    const dlq = stats?.deadLetter?.visible;
    seen.push({
      key: 'dead_letter',
      kind: 'dead_letter',
      bad: dlq === undefined ? undefined : dlq > 0,
      detail:
        dlq !== undefined && dlq > 0
          ? `${dlq} message(s) in the dead-letter queue: secbot could not decode them, or EventBridge could not deliver them. Read them, fix the cause, and move them back (README "The pipeline").`
          : 'The dead-letter queue is empty again.',
      severity: 'warning',
      page: false,
    });

    const ages = [
      d?.oldestMessageAgeMs,
      stats?.oldestAgeSeconds === undefined ? undefined : stats.oldestAgeSeconds * 1000,
    ].filter((x): x is number => x !== undefined);
    const age = ages.length > 0 ? Math.max(...ages) : 0;
    seen.push({
      key: 'queue_age',
      kind: 'queue_age',
      bad: failed ? undefined : age > opts.queueAgeMs,
      detail:
        age > opts.queueAgeMs
          ? `secbot's queue is behind: a message had waited ${span(age)} when it was drained (alert above ${span(opts.queueAgeMs)}). Calls are decided late: check the drain's log for slow batches, or run more replicas.`
          : `The queue keeps up again (oldest message drained after ${span(age)}).`,
      severity: 'warning',
      page: false,
    });

    // Heartbeats: only when this run drained the queue empty (else newer ones may still be waiting).
    const judgeHeartbeats = !failed && d?.stoppedBy === 'empty';
    let accounts: Awaited<ReturnType<Store['listAccounts']>> = [];
    try {
      accounts = await deps.store.listAccounts();
    } catch (err) {
      // Heartbeats cannot be judged this run; the other conditions still are.
      deps.logger.warn({ err }, 'watchdog: the accounts could not be read');
    }
    for (const a of accounts) {
      if (!a.lastHeartbeatAt) continue; // only accounts that have sent one
      const late = now.getTime() - Date.parse(a.lastHeartbeatAt);
      const isLate = late > opts.heartbeatLateMs;
      seen.push({
        key: heartbeatKey(a.account),
        kind: 'heartbeat',
        subject: a.account,
        bad: judgeHeartbeats ? isLate : undefined,
        detail: isLate
          ? `No heartbeat from account ${named(a.account)} for ${span(late)}: the last was sent ${a.lastHeartbeatAt}${a.lastHeartbeatRegion ? ` from ${a.lastHeartbeatRegion}` : ''} (one is sent every ${span(opts.heartbeatEveryMs ?? 300_000)}; late after ${span(opts.heartbeatLateMs)}). That account's CloudTrail calls may not be reaching secbot: check its collector (EventBridge rules and their target), the hub bus and the queue.`
          : `Account ${named(a.account)}'s heartbeat is back (sent ${a.lastHeartbeatAt}).`,
        severity: 'error',
        page: true,
      });
    }
    return seen;
  }

  async function raise(incident: Incident, s: Seen, now: Date): Promise<void> {
    await deps.store.createAlert({
      kind: 'watchdog',
      alertId: incident.alertId,
      severity: s.severity,
      summary: s.detail,
      reasons: [
        `watchdog: ${s.kind}${s.subject ? ` (${s.subject})` : ''}, incident ${incident.key} #${incident.seq}`,
      ],
      ruleIds: [],
      eventIds: [],
      page: s.page,
      at: now,
    });
    await deps.store.updateIncident(incident.key, {
      seq: incident.seq,
      from: ['OPEN'],
      set: { alerted: true },
      at: now,
    });
  }

  async function finishRecovery(incident: Incident, now: Date): Promise<boolean> {
    let inc: Incident | undefined = incident;
    if (inc.followUp !== 'sent') {
      const stale =
        inc.followUp === 'sending' &&
        now.getTime() - Date.parse(inc.followUpUpdatedAt ?? inc.updatedAt) > STALE_FOLLOW_UP_MS;
      if (inc.followUp === 'sending' && !stale) return false; // another replica is sending it
      const claimed = await deps.store.updateIncident(inc.key, {
        seq: inc.seq,
        from: ['RECOVERING'],
        followUpFrom: [inc.followUp ?? 'none'],
        followUpUpdatedAt: stale ? inc.followUpUpdatedAt : undefined,
        set: { followUp: 'sending' },
        at: now,
      });
      if (!claimed) return false;
      const alert = await deps.store.getAlert(inc.alertId);
      const text = followUpText(inc, alert);
      try {
        if (deps.messenger.postFollowUp) await deps.messenger.postFollowUp(text, alert?.channelMessage);
        else deps.logger.info(`watchdog: ${text}`);
      } catch (err) {
        deps.logger.warn(
          { err },
          `watchdog: the recovery message for ${inc.key} could not be posted; retrying`,
        );
        await deps.store.updateIncident(inc.key, {
          seq: inc.seq,
          from: ['RECOVERING'],
          followUpFrom: ['sending'],
          set: { followUp: 'pending' },
          at: clock(),
        });
        return false;
      }
      inc = await deps.store.updateIncident(inc.key, {
        seq: inc.seq,
        from: ['RECOVERING'],
        followUpFrom: ['sending'],
        set: { followUp: 'sent' },
        at: clock(),
      });
      if (!inc) return false;
      // The channel alert shows it resolved (best effort: the follow-up already says so).
      const resolved = await deps.store.getAlert(inc.alertId);
      if (resolved?.channelMessage) await deps.messenger.postAlert(resolved).catch(() => undefined);
    }
    if (inc.page && !inc.pagerResolved) {
      const alert = await deps.store.getAlert(inc.alertId);
      // A page that never went out needs no resolve (the sweep does not page a resolved watchdog alert).
      if (alert?.pageStatus === 'sent') {
        const r = await deps.pager.resolve(inc.alertId);
        if (!r.ok && r.retryable) {
          deps.logger.warn(`watchdog: PagerDuty resolve of ${inc.alertId} failed (${r.reason}); retrying`);
          return false;
        }
        if (!r.ok) deps.logger.warn(`watchdog: PagerDuty refused to resolve ${inc.alertId}: ${r.reason}`);
      }
      inc = await deps.store.updateIncident(inc.key, {
        seq: inc.seq,
        from: ['RECOVERING'],
        set: { pagerResolved: true },
        at: clock(),
      });
      if (!inc) return false;
    }
    const closed = await deps.store.updateIncident(inc.key, {
      seq: inc.seq,
      from: ['RECOVERING'],
      set: { state: 'CLOSED', closedAt: clock().toISOString() },
      at: clock(),
    });
    return closed !== undefined;
  }

  return {
    failuresInARow: () => failures,
    async run(input) {
      const now = clock();
      const report: WatchdogReport = { opened: [], recovered: [], closed: [], errors: 0 };
      const guard = async (what: string, fn: () => Promise<void>) => {
        try {
          await fn();
        } catch (err) {
          report.errors++;
          deps.logger.error({ err }, `watchdog: ${what} failed; it is retried on the next run`);
        }
      };
      let seen: Seen[] = [];
      await guard('checking the conditions', async () => {
        seen = await conditions(input, now);
      });
      let incidents = new Map<string, Incident>();
      await guard('reading incidents', async () => {
        incidents = new Map((await deps.store.listIncidents()).map((i) => [i.key, i]));
      });

      for (const s of seen) {
        if (s.bad === undefined) continue;
        const current = incidents.get(s.key);
        if (s.bad) {
          if (current?.state === 'OPEN' && current.alerted) continue; // alerted once: nothing more
          await guard(`opening ${s.key}`, async () => {
            const { incident, opened } = await deps.store.openIncident({
              key: s.key,
              kind: s.kind,
              subject: s.subject,
              detail: s.detail,
              page: s.page,
              at: now,
            });
            if (incident.state !== 'OPEN' || incident.alerted) return;
            await raise(incident, s, now);
            if (opened) {
              report.opened.push(s.key);
              deps.logger.warn(`watchdog: ${s.detail}`);
              deps.audit.write(
                auditEvent({
                  action: 'watchdog.opened',
                  outcome: 'success',
                  category: ['configuration'],
                  message: s.detail,
                  actor: 'secbot',
                  at: now,
                  secbot: { incident: s.key, kind: s.kind, seq: incident.seq, alert_id: incident.alertId },
                }),
              );
              await recordCounters(deps, now, { [`watchdog.opened.${s.kind}`]: 1 });
            }
          });
        } else if (current?.state === 'OPEN') {
          await guard(`clearing ${s.key}`, async () => {
            const recovering = await deps.store.updateIncident(s.key, {
              seq: current.seq,
              from: ['OPEN'],
              set: {
                state: 'RECOVERING',
                recoveredAt: now.toISOString(),
                recoveryDetail: s.detail,
                followUp: 'pending',
              },
              at: now,
            });
            if (!recovering) return; // another replica cleared it
            report.recovered.push(s.key);
            incidents.set(s.key, recovering);
            deps.audit.write(
              auditEvent({
                action: 'watchdog.recovered',
                outcome: 'success',
                category: ['configuration'],
                message: s.detail,
                actor: 'secbot',
                at: now,
                secbot: { incident: s.key, kind: s.kind, seq: current.seq, alert_id: current.alertId },
              }),
            );
            try {
              await deps.store.resolveAlert(current.alertId, 'secbot', now, `recovered: ${s.detail}`);
            } catch (err) {
              // Staff resolved it already, or it was never created: the follow-up still goes out.
              if (!(err instanceof AlreadyDecidedError || err instanceof NotFoundError)) throw err;
            }
          });
        }
      }

      // Finish what recovered (now or in an earlier run whose follow-up or resolve did not land),
      // and raise the alert of an incident whose creator died before it.
      for (const inc of incidents.values()) {
        if (inc.state === 'RECOVERING') {
          await guard(`finishing ${inc.key}`, async () => {
            if (await finishRecovery(inc, clock())) report.closed.push(inc.key);
          });
        } else if (inc.state === 'OPEN' && !inc.alerted) {
          const s = seen.find((x) => x.key === inc.key);
          if (s?.bad)
            await guard(`alerting ${inc.key}`, async () => {
              await raise(inc, s, now);
            });
        }
      }
      return report;
    },
  };
}

function followUpText(inc: Incident, alert: AlertItem | undefined): string {
  const lasted = span(Date.parse(inc.recoveredAt ?? inc.updatedAt) - Date.parse(inc.openedAt));
  const what = inc.recoveryDetail ?? `${inc.key} recovered`;
  const paged = inc.page && alert?.pageStatus === 'sent' ? ' The page is resolved in PagerDuty.' : '';
  return `:white_check_mark: *Recovered* after ${lasted}: ${escapeText(what)}${paged}`;
}

/** The follow-up is mrkdwn: our own words plus account ids and times, made inert all the same. */
function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
