/**
 * Crash and restart. secbot runs as a real child process (as `npm start` runs it) against a queue and a
 * table hosted by this test process (local-aws-sqs, dynalite: they outlive the child) and the local Slack,
 * Duo and PagerDuty. `SECBOT_CRASH_AT` makes the child SIGKILL itself at one of the five crash points
 * (lib/crash-points.ts), inside the real code path; a second child is started on the same queue and table
 * and the conversation is driven to its end. Then the invariants of test/helpers/invariants.ts must hold:
 * every notify call in exactly one verification, every escalation paged exactly once per dedup_key, no
 * engineer asked the same question twice, nothing left in the queue but poison (in the dead-letter queue).
 *
 * The scenarios run concurrently, each in its own world (servers, queue, table), to keep the file short.
 * Below them, in process and deterministic, the windows between two writes that a SIGKILL elsewhere can
 * also hit: a verification header written but never locked, a call redelivered after its question closed,
 * and the DM window itself with and without a readable DM history.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { WebClient } from '@slack/web-api';
import { memoryAuditTrail } from '../../audit/trail.js';
import { sweep } from '../../handlers/sweep.js';
import type { Pager } from '../../integrations/pagerduty.js';
import { createSlackMessenger } from '../../integrations/slack-messenger.js';
import { silentLogger } from '../../logging/logger.js';
import { createDynamoStore } from '../../store/dynamo-store.js';
import type { VerificationCall } from '../../store/types.js';
import { killAllChildren } from '../helpers/child-secbot.js';
import { type CrashScenario, runCrashScenario } from '../helpers/crash-run.js';
import { type Figures, questionPosts } from '../helpers/invariants.js';
import { startWorld, type World } from '../helpers/world.js';

after(killAllChildren);

const SCENARIOS: CrashScenario[] = [
  { point: 'after_receive:2' },
  { point: 'before_delete' },
  {
    point: 'after_dm_sent',
    after: ({ second, world }) => {
      assert.match(second.output(), /adopted message/, 'the restarted process adopted the question it found');
      assert.ok(world.slack.callsTo('conversations.history').length >= 1, 'it looked in the DM history');
    },
  },
  { point: 'duo_pending', trigger: 'yes' },
  { point: 'before_page', trigger: 'no' },
];

const figures: Record<string, Figures & { seconds: number }> = {};
after(() => {
  if (Object.keys(figures).length > 0) console.log(`crash figures: ${JSON.stringify(figures)}`);
});

describe('SIGKILL at each crash point, then restart', { concurrency: true }, () => {
  for (const sc of SCENARIOS) {
    it(`${sc.point}: every call in one verification, every escalation paged once, nobody asked twice, only poison left`, async () => {
      figures[sc.point] = await runCrashScenario(sc);
    });
  }
});

// ------------------------------------------------------------------------------------------------------
// The same windows in process, deterministic.

const logger = silentLogger();
const noPager: Pager = {
  trigger: async (e) => ({ ok: true, dedupKey: e.dedupKey }),
  acknowledge: async (k) => ({ ok: true, dedupKey: k }),
  resolve: async (k) => ({ ok: true, dedupKey: k }),
};

function call(eventId: string, engineer = 'U0ZED'): VerificationCall {
  return {
    eventId,
    eventName: 'CreateUser',
    eventSource: 'iam.amazonaws.com',
    eventTime: new Date().toISOString(),
    account: '111122223333',
    region: 'us-east-1',
    ruleIds: ['test-user-created'],
    action: 'notify',
    principal: engineer,
  };
}

describe('half-done work a SIGKILL can leave, in process', () => {
  let world: World;
  after(async () => {
    await world?.stop();
  });

  const setup = async () => {
    world ??= await startWorld();
    const store = await world.dynamo.newStore();
    const client = new WebClient(world.slack.botToken, {
      slackApiUrl: world.slack.apiUrl,
      retryConfig: { retries: 0 },
    });
    const messenger = createSlackMessenger({ client, logger });
    const deps = { store, messenger, pager: noPager, audit: memoryAuditTrail(), logger, owner: 'test' };
    return { store, messenger, deps };
  };

  it('a header written but never locked (drain killed in addNotifyCall) is never asked, and is discarded', async () => {
    const { store, deps } = await setup();
    const zed = world.engineer('zed', 'allow');
    const now = new Date();
    // The lock write "never happens": a client that refuses the engineer's lock item, as a SIGKILL would.
    const killed = createDynamoStore({
      tableName: store.tableName,
      client: {
        send: (cmd: { input?: { Item?: { pk?: { S?: string } } } }) =>
          cmd.input?.Item?.pk?.S?.startsWith('OPEN#')
            ? Promise.reject(new Error('SIGKILL'))
            : world.dynamo.client.send(cmd as never),
      } as never,
    });
    await assert.rejects(
      killed.addNotifyCall(zed, call('ev-orphan', zed), { now, deadline: new Date(now.getTime() + 60_000) }),
    );
    const [orphan] = await store.listVerifications('OPEN');
    assert.ok(orphan, 'the crash left an OPEN header');
    await sweep({ ...deps, staleSendMs: 60_000 });
    assert.equal(questionPosts(world).get(orphan.id) ?? 0, 0, 'an unlocked header is not asked');
    await sweep({ ...deps, staleSendMs: 0 });
    assert.equal(await store.getVerification(orphan.id), undefined, 'discarded once older than the grace');
    // The redelivered call opens the real question, asked once.
    const added = await store.addNotifyCall(zed, call('ev-orphan', zed), {
      now: new Date(),
      deadline: new Date(Date.now() + 60_000),
    });
    assert.equal(added.created, true);
    await sweep({ ...deps, staleSendMs: 0 });
    assert.equal(questionPosts(world).get(added.verificationId), 1);
    assert.equal((await store.getVerification(added.verificationId))?.dmStatus, 'sent');
  });

  it('a call redelivered after its question was answered stays in that verification', async () => {
    const { store } = await setup();
    const now = new Date();
    const first = await store.addNotifyCall('U0YVES', call('ev-answered', 'U0YVES'), {
      now,
      deadline: new Date(now.getTime() + 60_000),
    });
    // The drain died before completing the event; meanwhile the engineer answered (the lock is gone).
    await store.transitionVerification(first.verificationId, {
      from: ['OPEN'],
      to: 'DUO_PENDING',
      by: 'U0YVES',
      reason: 'yes',
      at: new Date(),
    });
    const again = await store.addNotifyCall('U0YVES', call('ev-answered', 'U0YVES'), {
      now: new Date(),
      deadline: new Date(Date.now() + 60_000),
    });
    assert.equal(again.verificationId, first.verificationId, 'not a second verification');
    assert.equal(again.duplicate, true);
    assert.equal(await store.findOpenVerification('U0YVES'), undefined, 'nothing new to ask');
  });

  for (const readable of [true, false]) {
    it(`the DM window: a question sent but not stored is ${readable ? 'found and adopted' : 'sent again when the DM history cannot be read'}`, async () => {
      const { store, messenger, deps } = await setup();
      const name = readable ? 'adopt' : 'twice';
      const id = world.engineer(name, 'allow');
      const now = new Date();
      const { verificationId } = await store.addNotifyCall(id, call(`ev-${name}`, id), {
        now,
        deadline: new Date(now.getTime() + 60_000),
      });
      // What a process killed at after_dm_sent leaves: intent stored, question in Slack, no reference.
      const sending = await store.updateVerification(verificationId, {
        set: { dmStatus: 'sending' },
        at: now,
        when: { dmStatus: ['pending'] },
      });
      await messenger.askEngineer({
        verification: sending,
        calls: await store.listVerificationCalls(verificationId),
      });
      if (!readable) world.slack.failNext('conversations.history', { error: 'missing_scope' });
      await sweep({ ...deps, staleSendMs: 60_000 });
      assert.equal(questionPosts(world).get(verificationId), 1, 'not resent before the stale time');
      await sweep({ ...deps, staleSendMs: 0 });
      const v = await store.getVerification(verificationId);
      assert.equal(v?.dmStatus, 'sent');
      const shown = world.slack.messages(world.slack.dmChannelId(id));
      if (readable) {
        assert.equal(questionPosts(world).get(verificationId), 1, 'asked once');
        assert.equal(v?.dm?.ts, shown[0]?.ts, 'the message already sent is the one kept');
      } else {
        // The window that remains: the history cannot tell, so the engineer is asked a second time.
        assert.equal(questionPosts(world).get(verificationId), 2);
        assert.equal(v?.dm?.ts, shown[1]?.ts);
      }
    });
  }
});
