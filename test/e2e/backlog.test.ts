/**
 * A backlog on the schedule (app.ts): a run that stops on its time budget with messages left is followed
 * at once by the next (after its sweep), not at the next tick, until the queue is empty.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alertCall, logCall } from '../helpers/events.js';
import { startWorld, type World } from '../helpers/world.js';

let world: World;
before(async () => {
  world = await startWorld();
});
after(async () => {
  await world?.stop();
});

describe('a backlog on the schedule', () => {
  it('runs back to back while runs stop on their budget, each run sweeping what it decided', async () => {
    // 45 log calls and one alert call; each run takes one batch of 10 (one receiver, no budget).
    const records = [alertCall('kim'), ...Array.from({ length: 45 }, () => logCall('kim'))];
    const bot = await world.startSecbot(
      // The next tick is on 1 January: only the start-up run and what follows it can drain.
      { SECBOT_SCHEDULE: '0 0 0 1 1 *', SECBOT_LOG_LEVEL: 'info' },
      { schedule: true, drain: { receivers: 1, budgetMs: 0 }, queued: records },
    );
    try {
      const until = Date.now() + 20_000;
      for (;;) {
        const s = await bot.queue.queue.stats();
        if (s.visible === 0 && s.inFlight === 0) break;
        assert.ok(Date.now() < until, `the backlog is still there: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Each run was followed by the next at once; the sixth found the queue empty, and that was all.
      const restarts = () => bot.logs.filter((l) => l.includes('the next run starts now')).length;
      while (restarts() < 5) {
        assert.ok(Date.now() < until, `${restarts()} runs were followed by another`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(restarts(), 5);
      const runs = bot.logs.filter((l) => l.includes('"drain":{'));
      assert.deepEqual(
        runs.map((l) => (JSON.parse(l) as { drain: { received: number } }).drain.received),
        [10, 10, 10, 10, 6],
        'five runs of one batch each',
      );
      // The alert call was paged by the sweep of the run that decided it, before the last run.
      const paged = await bot.waitForLog(/sweep: .* 1 pages sent/);
      assert.ok(bot.logs.indexOf(paged) < bot.logs.indexOf(runs.at(-1) ?? ''));
      const alertId = records[0]?.eventID;
      assert.ok(
        world.pagerduty
          .triggers()
          .some((t) =>
            (t.payload?.custom_details?.eventIDs as string[] | undefined)?.includes(alertId ?? ''),
          ),
        'the alert call was paged',
      );
    } finally {
      await bot.stop();
    }
  });
});
