/**
 * Replicas. Two, then three secbot child processes (as `npm start` runs it) share one queue and one table
 * hosted by this test process, each with its own Socket Mode connection to the local Slack (which hands
 * envelopes out round-robin, so a click lands on any replica). 2,000 calls from 40 engineers, notify and
 * alert mixed, are enqueued while the replicas run; a third of the engineers answer Yes (Duo approves),
 * a third No, a third never. Then (test/helpers/invariants.ts): one verification per engineer for the
 * burst, one question each, one Duo push per Yes, exactly one PagerDuty trigger per dedup_key, every
 * notify eventID in exactly one verification, the queue empty.
 *
 * `npm run test:soak` (test/soak) runs the same with more, and with replicas joining mid-burst.
 */
import { after, describe, it } from 'node:test';
import { killAllChildren } from '../helpers/child-secbot.js';
import { runReplicas } from '../helpers/replica-run.js';

after(killAllChildren);

const results: Record<string, unknown>[] = [];
after(() => {
  if (results.length > 0) console.log(`replica figures: ${JSON.stringify(results)}`);
});

describe('replicas on one queue and table', () => {
  for (const replicas of [2, 3]) {
    it(`${replicas} replicas, 2,000 calls from 40 engineers: one verification per engineer, one push per Yes, one page per escalation`, async () => {
      results.push(
        await runReplicas({
          replicas,
          calls: 2000,
          engineers: 40,
          alerts: 100,
          poison: 0,
          waves: 5,
          waveGapMs: 2_000,
          verifyTimeout: '45s',
        }),
      );
    });
  }
});
