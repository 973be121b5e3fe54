/**
 * The long variant of test/reliability/{crash,replicas}.test.ts, run by `npm run test:soak` (not by
 * `npm test`): every crash point at other counts and with bigger workloads, replicas with 5,000 calls from
 * 100 engineers and poison on the queue, and a third replica joining in the middle of a burst.
 */
import { after, describe, it } from 'node:test';
import { killAllChildren } from '../helpers/child-secbot.js';
import { type CrashScenario, runCrashScenario } from '../helpers/crash-run.js';
import { runReplicas } from '../helpers/replica-run.js';

after(killAllChildren);

const figures: Record<string, unknown> = {};
after(() => {
  if (Object.keys(figures).length > 0) console.log(`soak figures: ${JSON.stringify(figures)}`);
});

const big = { engineers: 12, calls: 240, alerts: 12, poison: 3 };
const CRASHES: CrashScenario[] = [
  { point: 'after_receive', ...big },
  { point: 'after_receive:5', ...big },
  { point: 'before_delete', ...big },
  { point: 'after_dm_sent', ...big },
  { point: 'after_dm_sent:4', ...big },
  { point: 'duo_pending', trigger: 'yes', ...big },
  { point: 'before_page', trigger: 'no', ...big },
];

describe('soak: crash points at other counts, bigger workloads', { concurrency: 2 }, () => {
  for (const sc of CRASHES) {
    it(`${sc.point}: the invariants hold after the restart`, async () => {
      figures[`crash ${sc.point}`] = await runCrashScenario(sc);
    });
  }
});

describe('soak: replicas', () => {
  for (const replicas of [2, 3]) {
    it(`${replicas} replicas, 5,000 calls from 100 engineers, poison on the queue`, async () => {
      figures[`replicas ${replicas}`] = await runReplicas({
        replicas,
        calls: 5000,
        engineers: 100,
        alerts: 250,
        poison: 3,
        waves: 10,
        waveGapMs: 2_000,
        verifyTimeout: '45s',
      });
    });
  }
  it('2 replicas and a third joining mid-burst, 2,000 calls from 40 engineers', async () => {
    figures['replicas 2+1'] = await runReplicas({
      replicas: 2,
      joinAfterFirstWave: 1,
      calls: 2000,
      engineers: 40,
      alerts: 100,
      poison: 0,
      waves: 5,
      waveGapMs: 3_000,
      verifyTimeout: '45s',
    });
  });
});
