/**
 * What one drain run heard, gathered in memory and written once at its end: per account the latest
 * heartbeat and the latest decided call (one conditional write each, never moving back), the lag
 * histogram (eventTime → decision), the age of the oldest message received, the engineers each rule
 * asked, and what staged rules would have done. Kept out of drain.ts so that the drain's hot path
 * only calls a few in-memory methods.
 */
import type { Logger } from 'pino';
import type { CloudTrailRecord, Heartbeat } from '../cloudtrail/record.js';
import type { RuleStage } from '../rules/types.js';
import type { Store } from '../store/store.js';
import type { Counters, RuleStageOverride } from '../store/types.js';
import type { Decision } from './decide.js';
import { lagBucket } from './lag.js';
import type { EngineerDirectory } from './ports.js';

const dayOf = (d: Date) => d.toISOString().slice(0, 10);
const ACCOUNT = /^\d{12}$/;

/**
 * An account's last call is written again only when it moved at least this much since this process last
 * wrote it: "last call 7m ago" needs no second's precision, and a busy account would otherwise cost a
 * write every drain run. Heartbeats (one every few minutes) are always written.
 */
export const LAST_EVENT_GRANULARITY_MS = 60_000;
/** `<table>|<account>` → the last call time this process wrote (bounded). */
const writtenEventAt = new Map<string, number>();

/** The effective stage of each rule: staff overrides (DynamoDB) over the file's stage. */
export function stageResolver(
  overrides: readonly RuleStageOverride[],
): (rule: { id: string; stage?: RuleStage }) => RuleStage {
  const byId = new Map(overrides.map((o) => [o.ruleId, o.stage]));
  return (rule) => byId.get(rule.id) ?? rule.stage ?? 'live';
}

/** The account a call belongs to (where it happened), when it names one. */
export function accountOf(record: CloudTrailRecord): string | undefined {
  const a = record.recipientAccountId ?? record.userIdentity?.accountId;
  return typeof a === 'string' && ACCOUNT.test(a) ? a : undefined;
}

interface AccountSeen {
  heartbeatAt?: number;
  heartbeatRegion?: string;
  eventAt?: number;
}

export interface RunActivity {
  /** Heartbeats received this run. */
  readonly heartbeats: number;
  /** The oldest message received this run, by its SentTimestamp (undefined: nothing received). */
  readonly oldestMessageAgeMs: number | undefined;
  heartbeat(hb: Heartbeat): void;
  /** A decodable message received `ageMs` after it was sent. */
  messageAge(ageMs: number): void;
  /** A call whose decision is durable, decided at `now`. */
  decided(record: CloudTrailRecord, now: Date): void;
  /** A live question was (or will be) put to `engineer` for these rules. */
  asked(ruleIds: readonly string[], engineer: string, now: Date): void;
  /**
   * Count what the staged rules of a durable decision would have done (`rule.<id>.staged.*`), and whom
   * a would-be question would have asked (the directory, as for a live one; unresolvable → it would
   * have escalated).
   */
  staged(
    decision: Decision,
    directory: EngineerDirectory,
    count: (name: string) => void,
    now: Date,
  ): Promise<void>;
  /** Write it all (failures are logged: figures never fail a drain). */
  flush(store: Store, logger: Logger, now: Date): Promise<void>;
}

export function createRunActivity(): RunActivity {
  const accounts = new Map<string, AccountSeen>();
  /** `<account>|<day>` → lag bucket counts. */
  const lag = new Map<string, Counters>();
  /** `<day>|<ruleId>` → engineers. */
  const engineers = new Map<string, { asked: Set<string>; wouldAsk: Set<string> }>();
  let heartbeats = 0;
  let oldest: number | undefined;

  const seen = (account: string) => {
    let a = accounts.get(account);
    if (!a) {
      a = {};
      accounts.set(account, a);
    }
    return a;
  };
  const ruleDay = (day: string, ruleId: string) => {
    const key = `${day}|${ruleId}`;
    let e = engineers.get(key);
    if (!e) {
      e = { asked: new Set(), wouldAsk: new Set() };
      engineers.set(key, e);
    }
    return e;
  };

  return {
    get heartbeats() {
      return heartbeats;
    },
    get oldestMessageAgeMs() {
      return oldest;
    },
    heartbeat(hb) {
      heartbeats++;
      const at = Date.parse(hb.sentAt);
      if (!ACCOUNT.test(hb.account) || Number.isNaN(at)) return;
      const a = seen(hb.account);
      if (a.heartbeatAt === undefined || at > a.heartbeatAt) {
        a.heartbeatAt = at;
        a.heartbeatRegion = hb.region;
      }
    },
    messageAge(ageMs) {
      if (!Number.isFinite(ageMs)) return;
      const ms = Math.max(0, ageMs);
      if (oldest === undefined || ms > oldest) oldest = ms;
    },
    decided(record, now) {
      const account = accountOf(record);
      if (!account) return;
      const at = Date.parse(record.eventTime);
      if (Number.isNaN(at)) return;
      const a = seen(account);
      if (a.eventAt === undefined || at > a.eventAt) a.eventAt = at;
      const key = `${account}|${dayOf(now)}`;
      const c = lag.get(key) ?? {};
      const bucket = lagBucket(now.getTime() - at);
      c[bucket] = (c[bucket] ?? 0) + 1;
      lag.set(key, c);
    },
    asked(ruleIds, engineer, now) {
      for (const id of new Set(ruleIds)) ruleDay(dayOf(now), id).asked.add(engineer);
    },
    async staged(decision, directory, count, now) {
      const staged = decision.staged ?? [];
      if (staged.length === 0) return;
      let engineer: string | undefined;
      let unresolvable = false;
      if (staged.some((s) => s.wouldBe === 'notify')) {
        try {
          const r = await directory.resolve(decision.principal);
          if (r.ok) engineer = r.engineer.key;
          else unresolvable = true;
        } catch {
          unresolvable = true;
        }
      }
      for (const s of staged) {
        const base = `rule.${s.ruleId}.staged`;
        count(`${base}.match`);
        // Unattributable: live, the question would have gone to the security team instead (fail closed).
        const wouldBe = s.wouldBe === 'notify' && unresolvable ? 'alert' : s.wouldBe;
        count(`${base}.would_${wouldBe}`);
        if (s.wouldPage || (s.wouldBe === 'notify' && unresolvable)) count(`${base}.would_page`);
        if (s.wouldBe === 'notify' && engineer) ruleDay(dayOf(now), s.ruleId).wouldAsk.add(engineer);
      }
    },
    async flush(store, logger, now) {
      const writes: (() => Promise<void>)[] = [];
      for (const [account, a] of accounts) {
        const key = `${store.tableName}|${account}`;
        const written = writtenEventAt.get(key);
        if (
          a.eventAt !== undefined &&
          written !== undefined &&
          a.eventAt < written + LAST_EVENT_GRANULARITY_MS
        )
          a.eventAt = undefined;
        if (a.eventAt === undefined && a.heartbeatAt === undefined) continue;
        const eventAt = a.eventAt;
        writes.push(() =>
          store
            .recordAccountActivity(
              account,
              {
                heartbeatAt: a.heartbeatAt === undefined ? undefined : new Date(a.heartbeatAt),
                heartbeatRegion: a.heartbeatRegion,
                eventAt: eventAt === undefined ? undefined : new Date(eventAt),
              },
              now,
            )
            .then(() => {
              if (eventAt === undefined) return;
              if (writtenEventAt.size > 50_000) writtenEventAt.clear();
              writtenEventAt.set(key, Math.max(eventAt, writtenEventAt.get(key) ?? 0));
            }),
        );
      }
      for (const [key, counts] of lag) {
        const [account = '', day = ''] = key.split('|');
        writes.push(() => store.addAccountLag(account, day, counts));
      }
      for (const [key, e] of engineers) {
        const [day = '', ruleId = ''] = key.split('|');
        writes.push(() =>
          store.addRuleEngineers(day, ruleId, { asked: [...e.asked], wouldAsk: [...e.wouldAsk] }),
        );
      }
      // A few at a time: an organisation's worth of accounts must not open hundreds of requests at once.
      let next = 0;
      await Promise.all(
        Array.from({ length: Math.min(8, writes.length) }, async () => {
          while (next < writes.length) {
            const w = writes[next++] as () => Promise<void>;
            await w().catch((err) =>
              logger.warn({ err }, 'drain: could not record account or rule activity'),
            );
          }
        }),
      );
    },
  };
}
