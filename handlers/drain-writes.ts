/**
 * The drain's group commit: the writes of the records decided together are sent together — an
 * engineer's calls join their verification in one conditional update (per 40 calls), decisions are
 * recorded 25 to a BatchWriteItem — instead of a few requests per record. Each record's code still
 * awaits its own result; the writer sends what is waiting once every record of the group in flight is
 * waiting on it (or after FLUSH_AFTER_MS, so a slow lookup elsewhere holds nobody up for long).
 */
import type { Store } from '../store/store.js';
import type { AddNotifyCallResult, DecisionSummary, VerificationCall } from '../store/types.js';

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

interface EngineerCalls {
  calls: VerificationCall[];
  waiters: Waiter<AddNotifyCallResult>[];
  deadline: Date;
}

/** At most this many engineers' joins in flight at once. */
const JOIN_CONCURRENCY = 8;
/** Longest a write waits for the rest of its group. */
const FLUSH_AFTER_MS = 50;

export interface GroupWriter {
  /** A record of the group starts; `settled` when its code is done (decided, duplicate or failed). */
  begin(): { settled(): void };
  /** Like `store.addNotifyCall`, combined with the other calls of the same engineer. */
  addNotifyCall(
    engineerKey: string,
    call: VerificationCall,
    opts: { now: Date; deadline: Date },
  ): Promise<AddNotifyCallResult>;
  /** Record the event as decided (with the other decisions of the group). */
  recordDecision(eventId: string, decision: DecisionSummary, now: Date): Promise<void>;
}

/**
 * A writer for one drain run. It remembers where each engineer's calls joined last (a hint that saves
 * reading the engineer's lock; used only while that verification is OPEN).
 */
export function createGroupWriter(store: Store, owner: string): GroupWriter {
  let notify = new Map<string, EngineerCalls>();
  let decisions: { eventId: string; owner: string; decision: DecisionSummary; waiter: Waiter<void> }[] = [];
  let at = new Date();
  /** Records in flight; of them, how many wait on a queued write and how many on a write being sent. */
  let active = 0;
  let queued = 0;
  let sending = 0;
  let timer: NodeJS.Timeout | undefined;
  const verifications = new Map<string, string>();

  /**
   * Send what is queued once no record of the group is still working (each waits on a write): joins at
   * once, decisions when nothing else is being sent (its records come back with more) or 100 are queued.
   */
  const consider = () => {
    if (queued === 0) return;
    const running = active - queued - sending;
    if (running <= 0) {
      if (notify.size > 0) {
        flush(true, sending === 0 || decisions.length >= 100);
        return;
      }
      if (sending === 0 || decisions.length >= 100) {
        flush(false, true);
        return;
      }
    }
    timer ??= setTimeout(() => {
      timer = undefined;
      flush(true, true);
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
          });
          const last = results.at(-1);
          if (last) verifications.set(engineerKey, last.verificationId);
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

  async function flushDecisions(batch: typeof decisions, now: Date): Promise<void> {
    if (batch.length === 0) return;
    try {
      await store.recordDecisions(batch, now);
      for (const d of batch) d.waiter.resolve();
    } catch (err) {
      for (const d of batch) d.waiter.reject(err);
    }
  }

  function flush(joins: boolean, records: boolean): void {
    if (timer) clearTimeout(timer);
    timer = undefined;
    let n = new Map<string, EngineerCalls>();
    let d: typeof decisions = [];
    if (joins && notify.size > 0) {
      n = notify;
      notify = new Map();
      for (const e of n.values()) e.waiters = e.waiters.map(sent);
    }
    if (records && decisions.length > 0) {
      d = decisions;
      decisions = [];
      for (const x of d) x.waiter = sent(x.waiter);
    }
    if (n.size === 0 && d.length === 0) return;
    if (process.env.SECBOT_DEBUG_FLUSH) console.error(`flush: ${n.size} engineers, ${d.length} decisions, active ${active} queued ${queued} sending ${sending}`);
    void Promise.all([flushNotify(n, at), flushDecisions(d, at)]);
  }

  return {
    begin() {
      active++;
      let done = false;
      return {
        settled() {
          if (done) return;
          done = true;
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
    recordDecision(eventId, decision, now) {
      at = now;
      return wait<void>((w) => {
        decisions.push({ eventId, owner, decision, waiter: w });
      });
    },
  };
}
