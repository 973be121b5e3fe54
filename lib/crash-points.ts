/**
 * Test-only fault points: `crashPoint(name)` kills this process with SIGKILL when `SECBOT_CRASH_AT`
 * (read by config/index.ts, armed by app.ts) names it — `name` for the first time the point is reached,
 * `name:3` for the third. Unarmed (always, outside the crash tests) it is one comparison and returns.
 *
 * The points sit inside the real code paths, at the edges of the delivery guarantees (DESIGN.md):
 *
 * | point           | where                                                                          |
 * | --------------- | ------------------------------------------------------------------------------ |
 * | `after_receive` | drain: a batch was received, nothing of it decided yet                         |
 * | `before_delete` | drain: every decision of the group is durable, its messages not deleted yet    |
 * | `after_dm_sent` | sweep: Slack accepted the question, its message reference is not stored yet    |
 * | `duo_pending`   | verify: DUO_PENDING and the Duo txid are stored, the push is not settled yet   |
 * | `before_page`   | escalate: the escalation and its alert are stored, nothing is paged yet        |
 */
import { writeSync } from 'node:fs';

export const CRASH_POINTS = [
  'after_receive',
  'before_delete',
  'after_dm_sent',
  'duo_pending',
  'before_page',
] as const;

export type CrashPointName = (typeof CRASH_POINTS)[number];

/** `SECBOT_CRASH_AT`'s syntax: a point's name, optionally `:<n>` (the n-th time, from 1). */
export const CRASH_AT_PATTERN = new RegExp(`^(${CRASH_POINTS.join('|')})(?::([1-9]\\d{0,5}))?$`);

let armed: { name: CrashPointName; nth: number } | undefined;
let reached = 0;

/** Arm (or, with undefined, disarm) the crash point named by a `SECBOT_CRASH_AT` value. */
export function armCrashPoint(spec: string | undefined): void {
  reached = 0;
  armed = undefined;
  if (!spec) return;
  const m = CRASH_AT_PATTERN.exec(spec);
  if (!m?.[1]) throw new TypeError(`not a crash point: ${spec}`);
  armed = { name: m[1] as CrashPointName, nth: m[2] ? Number(m[2]) : 1 };
}

/** SIGKILL this process here if the armed crash point is this one, the n-th time it is reached. */
export function crashPoint(name: CrashPointName): void {
  if (armed?.name !== name) return;
  reached += 1;
  if (reached !== armed.nth) return;
  try {
    writeSync(2, `secbot: crash point ${name}${armed.nth > 1 ? `:${armed.nth}` : ''} reached: SIGKILL\n`);
  } catch {
    // stderr gone: die anyway
  }
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL is not deliverable to a handler; make sure nothing else runs while it lands.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10_000);
}
