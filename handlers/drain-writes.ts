/**
 * The drain's group commit: the writes of the records decided together are sent together — an
 * engineer's calls join their verification in one conditional update (per 40 calls), decisions are
 * recorded 25 to a BatchWriteItem — instead of a few requests per record. A record's code awaits its
 * joins, which go out once every record of the group in flight waits on one (or after FLUSH_AFTER_MS,
 * so a slow lookup elsewhere holds nobody up for long); its decision is queued, and the group's are
 * written together before any of its messages is deleted.
 */
import type { Store } from '../store/store.js';
import type {
  AddAlertCallResult,
  AddNotifyCallResult,
  AlertBurst,
  BurstCall,
  DecisionSummary,
  VerificationCall,
} from '../store/types.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

interface EngineerCalls {
  calls: VerificationCall[];
  waiters: Waiter<AddNotifyCallResult>[];
  deadline: Date;
}

interface BurstCalls {
  burst: AlertBurst;
  calls: BurstCall[];
  waiters: Waiter<AddAlertCallResult>[];
  /** A call of a redelivered message: search the burst's alerts from the first (it may be in one). */
  redelivered: boolean;
}

/**
 * The alert each burst joined last in this process (its `seq`): a hint that saves reading the sealed
 * ones again in every run. Kept across runs, bounded (forgotten wholesale when full).
 */
const burstSeqs = new Map<string, number>();
const MAX_BURST_HINTS = 10_000;

/** At most this many engineers' (or bursts') joins in flight at once. */
const JOIN_CONCURRENCY = 8;
/** Longest a join waits for the rest of its group (records held up elsewhere, e.g. a directory lookup). */
const FLUSH_AFTER_MS = 200;
/** Items per BatchWriteItem, and such writes in flight at once. */
const PER_WRITE = 25;
const WRITE_CONCURRENCY = 8;

export interface GroupWriter {
  /**
   * Announce a record of the group (before any starts); `started` when its code begins, `settled` when
   * it is done (decided, duplicate or failed).
   */
  begin(): { started(): void; settled(): void };
  /** Like `store.addNotifyCall`, combined with the other calls of the same engineer. */
  addNotifyCall(
    engineerKey: string,
    call: VerificationCall,
    opts: { now: Date; deadline: Date },
  ): Promise<AddNotifyCallResult>;
  /** Like `store.addAlertCalls` for one call, combined with the group's other calls of the same burst. */
  addAlertCall(
    burst: AlertBurst,
    call: BurstCall,
    opts: { now: Date; redelivered: boolean },
  ): Promise<AddAlertCallResult>;
  /** Queue the event's decision; `commitDecisions` writes the group's, before its messages are deleted. */
  recordDecision(eventId: string, decision: DecisionSummary, now: Date): void;
  /**
   * Write the group's queued call items and decisions, 25 to a BatchWriteItem; returns the eventIDs
   * whose write failed (their messages stay for redelivery).
   */
  commitDecisions(eventIds: readonly string[]): Promise<Set<string>>;
}

/**
 * A writer for one drain run. It remembers where each engineer's calls joined last (a hint that saves
 * reading the engineer's lock; used only while that verification is OPEN).
 */
export function createGroupWriter(store: Store, owner: string): GroupWriter {
  let notify = new Map<string, EngineerCalls>();
  let bursts = new Map<string, BurstCalls>();

  // By eventID, so each group writes only its own (two groups may be in hand at once).
  const decisions = new Map<string, { eventId: string; owner: string; decision: DecisionSummary }>();
  const callItems = new Map<string, { verificationId: string; call: VerificationCall; eventId: string }>();
  let at = new Date();
  /** Records in flight; of them, how many wait on a queued write and how many on a write being sent. */
  let active = 0;
  /** Announced records whose code has not begun: while any is left, only a full house sends joins. */
  let unstarted = 0;
  let queued = 0;
  let sending = 0;
  let timer: NodeJS.Timeout | undefined;
  const verifications = new Map<string, string>();

  /** Send the queued joins once no record of the group is still working (each waits on a write). */
  const consider = () => {
    if (queued === 0) return;
    if (active - queued - sending <= 0) {
      flush();
      return;
    }
    if (unstarted > 0) return;
    timer ??= setTimeout(() => {
      timer = undefined;
      flush();
    }, FLUSH_AFTER_MS);
  };

  function wait<T>(register: (w: Waiter<T>) => void): Promise<T> {
    queued++;
    const p = new Promise<T>((resolve, reject) => register({ resolve, reject }));
    // After the current turn: records about to wait join this flush.
    setImmediate(consider);
    return p;
  }

  /** A queued waiter's write goes out; when it settles, its record runs again. */
  function sent<T>(w: Waiter<T>): Waiter<T> {
    queued--;
    sending++;
    const done = () => {
      sending--;
    };
    return {
      resolve: (v) => {
        done();
        w.resolve(v);
      },
      reject: (e) => {
        done();
        w.reject(e);
      },
    };
  }

  async function flushNotify(batch: Map<string, EngineerCalls>, now: Date): Promise<void> {
    const engineers = [...batch];
    let next = 0;
    const worker = async () => {
      while (next < engineers.length) {
        const [engineerKey, e] = engineers[next++] as [string, EngineerCalls];
        try {
          const results = await store.addNotifyCalls(engineerKey, e.calls, {
            now,
            deadline: e.deadline,
            verificationId: verifications.get(engineerKey),
            deferCallItems: true,
          });
          const last = results.at(-1);
          if (last) verifications.set(engineerKey, last.verificationId);
          // Their call items go out with the group's decisions (a duplicate's too: it repairs a crash
          // between a join and its call item).
          e.calls.forEach((call, i) => {
            const r = results[i] as AddNotifyCallResult;
            callItems.set(call.eventId, { verificationId: r.verificationId, call, eventId: call.eventId });
          });
          e.waiters.forEach((w, i) => {
            w.resolve(results[i] as AddNotifyCallResult);
          });
        } catch (err) {
          verifications.delete(engineerKey);
          for (const w of e.waiters) w.reject(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, engineers.length) }, worker));
  }

  async function flushBursts(batch: Map<string, BurstCalls>, now: Date): Promise<void> {
    const list = [...batch.values()];
    let next = 0;
    const worker = async () => {
      while (next < list.length) {
        const b = list[next++] as BurstCalls;
        try {
          const { results, seq } = await store.addAlertCalls(b.burst, b.calls, {
            now,
            seq: b.redelivered ? undefined : burstSeqs.get(b.burst.key),
            redelivered: b.redelivered,
          });
          if (burstSeqs.size >= MAX_BURST_HINTS) burstSeqs.clear();
          burstSeqs.set(b.burst.key, seq);
          b.waiters.forEach((w, i) => {
            w.resolve(results[i] as AddAlertCallResult);
          });
        } catch (err) {
          burstSeqs.delete(b.burst.key);
          for (const w of b.waiters) w.reject(err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(JOIN_CONCURRENCY, list.length) }, worker));
  }

  function flush(): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (notify.size > 0) {
      const n = notify;
      notify = new Map();
      for (const e of n.values()) e.waiters = e.waiters.map(sent);
      void flushNotify(n, at);
    }
    if (bursts.size > 0) {
      const b = bursts;
      bursts = new Map();
      for (const e of b.values()) e.waiters = e.waiters.map(sent);
      void flushBursts(b, at);
    }
  }

  return {
    begin() {
      active++;
      unstarted++;
      let begun = false;
      let done = false;
      const started = () => {
        if (begun) return;
        begun = true;
        unstarted--;
        if (unstarted === 0) consider();
      };
      return {
        started,
        settled() {
          if (done) return;
          done = true;
          started();
          active--;
          consider();
        },
      };
    },
    addNotifyCall(engineerKey, call, opts) {
      at = opts.now;
      return wait<AddNotifyCallResult>((w) => {
        let e = notify.get(engineerKey);
        if (!e) {
          e = { calls: [], waiters: [], deadline: opts.deadline };
          notify.set(engineerKey, e);
        }
        e.calls.push(call);
        e.waiters.push(w);
      });
    },
    addAlertCall(burst, call, opts) {
      at = opts.now;
      return wait<AddAlertCallResult>((w) => {
        let b = bursts.get(burst.key);
        if (!b) {
          b = { burst, calls: [], waiters: [], redelivered: false };
          bursts.set(burst.key, b);
        }
        b.calls.push(call);
        b.waiters.push(w);
        if (opts.redelivered) b.redelivered = true;
      });
    },
    recordDecision(eventId, decision, now) {
      at = now;
      decisions.set(eventId, { eventId, owner, decision });
    },
    async commitDecisions(eventIds) {
      const failed = new Set<string>();
      const run = async (writes: { ids: string[]; write: () => Promise<void> }[]) => {
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(WRITE_CONCURRENCY, writes.length) }, async () => {
            while (next < writes.length) {
              const w = writes[next++] as (typeof writes)[number];
              try {
                await w.write();
              } catch {
                for (const id of w.ids) failed.add(id);
              }
            }
          }),
        );
      };
      // Call items first: a record is marked decided only once its call item is stored, or a
      // redelivery would be taken for a duplicate before it could repair the missing item.
      const take = <T>(from: Map<string, T>): T[] => {
        const out: T[] = [];
        for (const id of eventIds) {
          const x = from.get(id);
          if (x !== undefined) {
            out.push(x);
            from.delete(id);
          }
        }
        return out;
      };
      const calls = take(callItems);
      const queued = take(decisions);
      const callWrites = [];
      for (let i = 0; i < calls.length; i += PER_WRITE) {
        const chunk = calls.slice(i, i + PER_WRITE);
        callWrites.push({
          ids: chunk.map((c) => c.eventId),
          write: () => store.putVerificationCalls(chunk, at),
        });
      }
      await run(callWrites);
      const batch = queued.filter((d) => !failed.has(d.eventId));
      const decisionWrites = [];
      for (let i = 0; i < batch.length; i += PER_WRITE) {
        const chunk = batch.slice(i, i + PER_WRITE);
        decisionWrites.push({
          ids: chunk.map((d) => d.eventId),
          write: () => store.recordDecisions(chunk, at),
        });
      }
      await run(decisionWrites);
      return failed;
    },
  };
}
