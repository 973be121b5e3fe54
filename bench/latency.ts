/**
 * 5. Latency: secbot running on its default schedule (every 15 s), 200 notify calls from 50 engineers
 *    enqueued one by one at seeded moments spread over a minute. A call's latency is from its enqueue to
 *    the first version of its engineer's DM (the question, or its update) posted after the call was
 *    decided — the first DM that shows it. The quick run: 20 calls over 10 s on a 5 s schedule.
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { start } from '../app.js';
import { toEventBridgeEvent } from '../integrations/enqueue.js';
import { BUNDLED_RULES_DIR, loadRuleDirs } from '../rules/loader.js';
import { benchDataDir, secbotEnv } from './drain.js';
import { EMAIL_DOMAIN, ENGINEERS, prng } from './inputs.js';
import { type BenchResult, figure, median, percentile } from './report.js';
import type { BenchContext } from './timing.js';
import { mixedWorkload } from './workload.js';
import { startWorld, type WorldRecords } from './world.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** When each call joined its verification, from the audit trail: eventID → decision time, verification. */
function decisions(auditFile: string): Map<string, { at: number; verificationId?: string }> {
  const out = new Map<string, { at: number; verificationId?: string }>();
  let text = '';
  try {
    text = readFileSync(auditFile, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    if (!line.includes('"secbot.decision"')) continue;
    const r = JSON.parse(line) as {
      '@timestamp': string;
      event?: { id?: string };
      secbot?: { verification_id?: string };
    };
    const id = r.event?.id;
    if (id) out.set(id, { at: Date.parse(r['@timestamp']), verificationId: r.secbot?.verification_id });
  }
  return out;
}

/** Each call's latency (ms), or undefined while no DM shows it yet. */
function latencies(
  calls: { eventId: string; engineer: string; enqueuedAt: number }[],
  decided: Map<string, { at: number }>,
  records: WorldRecords,
  dmOf: (engineer: string) => string,
): (number | undefined)[] {
  const versions = new Map<string, number[]>();
  for (const m of records.messages) {
    const list = versions.get(m.channel) ?? [];
    for (const v of m.versions) list.push(v.at);
    versions.set(m.channel, list);
  }
  return calls.map((c) => {
    const d = decided.get(c.eventId);
    if (!d) return undefined;
    const shown = (versions.get(dmOf(c.engineer)) ?? []).filter((at) => at >= d.at).sort((a, b) => a - b)[0];
    return shown === undefined ? undefined : shown - c.enqueuedAt;
  });
}

export async function benchLatency(bc: BenchContext): Promise<BenchResult> {
  const n = bc.quick ? 20 : 200;
  const spreadMs = bc.quick ? 10_000 : 60_000;
  const scheduleSeconds = bc.quick ? 5 : 15;
  const engineers = ENGINEERS.slice(0, bc.quick ? 10 : 50);
  const ruleSet = await loadRuleDirs([BUNDLED_RULES_DIR]);
  const world = await startWorld();
  const dataDir = benchDataDir();
  try {
    await world.addUsers(engineers, EMAIL_DOMAIN);
    const env = secbotEnv(
      world,
      dataDir,
      bc.quick ? { SECBOT_SCHEDULE: `*/${scheduleSeconds} * * * * *` } : {},
    );
    bc.log(
      `latency: secbot on its schedule (every ${scheduleSeconds} s); ${n} calls over ${spreadMs / 1000} s`,
    );
    const secbot = await start({ env, print: () => {} });
    try {
      const rand = prng(bc.seed);
      const offsets = Array.from({ length: n }, () => Math.floor(rand() * spreadMs)).sort((a, b) => a - b);
      const t0 = Date.now();
      const calls: { eventId: string; engineer: string; enqueuedAt: number }[] = [];
      for (let i = 0; i < n; i++) {
        // Made when sent, so each call is fresh (well within the age a question may have).
        const engineer = engineers[i % engineers.length] as string;
        const workload = mixedWorkload(bc.corpus, ruleSet, {
          counts: { log: 0, notify: 1, alert: 0 },
          engineers: [engineer],
          seed: bc.seed + i,
          anchorMs: Date.now(),
          spreadMs: 1_000,
        });
        const record = workload.records[0];
        if (!record) throw new Error('no notify record generated');
        await sleep(Math.max(0, t0 + (offsets[i] as number) - Date.now()));
        const enqueuedAt = Date.now();
        const { failed } = await secbot.queue.sendBatch([JSON.stringify(toEventBridgeEvent(record))]);
        if (failed.length > 0) throw new Error(`enqueue failed: ${failed[0]?.reason}`);
        calls.push({ eventId: record.eventID, engineer, enqueuedAt });
      }
      // Until every call shows in a DM (at most two more schedule intervals and a margin).
      const auditFile = join(dataDir, 'audit.jsonl');
      const dmOf = (engineer: string) => `D0${engineer.toUpperCase()}`;
      let result: (number | undefined)[] = [];
      const until = Date.now() + scheduleSeconds * 2_000 + 20_000;
      for (;;) {
        result = latencies(calls, decisions(auditFile), await world.records(), dmOf);
        if (result.every((l) => l !== undefined) || Date.now() > until) break;
        await sleep(1_000);
      }
      const shown = result.filter((l): l is number => l !== undefined);
      const missing = result.length - shown.length;
      const p95 = missing > 0 ? Number.POSITIVE_INFINITY : percentile(shown, 95);
      const bar = scheduleSeconds + 2;
      return {
        bench: 'latency',
        title: `enqueue → DM, ${n} calls from ${engineers.length} engineers over ${spreadMs / 1000} s, schedule every ${scheduleSeconds} s`,
        figures: [
          figure(
            'p95 enqueue → DM',
            Number((p95 / 1000).toFixed(2)),
            's',
            `median ${(median(shown) / 1000).toFixed(1)} s, max ${(Math.max(...shown) / 1000).toFixed(1)} s${missing > 0 ? `; ${missing} calls never shown` : ''}`,
            { op: '<=', value: bar },
          ),
        ],
        absolute: {
          calls: n,
          shown: shown.length,
          p50Ms: Math.round(median(shown)),
          p95Ms: Math.round(p95),
          maxMs: Math.round(Math.max(...shown)),
          scheduleSeconds,
        },
        notes: [
          'A call counts as shown by the first version (question or update) of its DM posted after the audit trail records its decision.',
        ],
      };
    } finally {
      await secbot.stop();
    }
  } finally {
    await world.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
