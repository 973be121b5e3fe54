/**
 * One engineer, many principals (issue 7): an IAM user and Identity Center sessions in several accounts
 * all resolve to one Slack user with one users.lookupByEmail, even when they arrive at once; a directory
 * that cannot answer is asked again next time. And a question is one Web API call: chat.postMessage to
 * the user id, whose answer names the DM channel.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebClient } from '@slack/web-api';
import { principalOf } from '../../cloudtrail/principal.js';
import { createSlackDirectory } from '../../integrations/slack-directory.js';
import { createSlackMessenger } from '../../integrations/slack-messenger.js';
import { silentLogger } from '../../logging/logger.js';
import type { Verification } from '../../store/types.js';
import { iamUser, makeRecord, ssoUser } from '../helpers/events.js';
import { type SlackServer, startSlackServer } from '../helpers/slack-server.js';

let slack: SlackServer;
let client: WebClient;
before(async () => {
  slack = await startSlackServer();
  client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  slack.addUser({ id: 'U0OMAR', name: 'omar', email: 'omar@example.com' });
});
after(async () => {
  await slack.stop();
});

const principal = (identity: Record<string, unknown>) => principalOf(makeRecord({ userIdentity: identity }));

describe('directory lookups by email', () => {
  it('the principals of one engineer, resolved at once, cost one lookup', async () => {
    const dir = createSlackDirectory({ client, emailDomain: 'example.com', logger: silentLogger() });
    slack.clearRecords();
    const principals = [
      principal(iamUser('omar', '111111111111')),
      principal(iamUser('omar', '222222222222')),
      principal(ssoUser('omar@example.com', '111111111111')),
      principal(ssoUser('omar@example.com', '333333333333')),
    ];
    const resolved = await Promise.all(principals.flatMap((p) => [dir.resolve(p), dir.resolve(p)]));
    assert.ok(resolved.every((r) => r.ok && r.engineer.slackUserId === 'U0OMAR'));
    assert.equal(slack.callsTo('users.lookupByEmail').length, 1);
  });

  it('a failed lookup is not remembered', async () => {
    const dir = createSlackDirectory({ client, emailDomain: 'example.com', logger: silentLogger() });
    slack.clearRecords();
    slack.failNext('users.lookupByEmail', { status: 500 });
    const down = await dir.resolve(principal(iamUser('omar')));
    assert.equal(down.ok, false);
    const up = await dir.resolve(principal(ssoUser('omar@example.com')));
    assert.equal(up.ok, true);
    assert.equal(slack.callsTo('users.lookupByEmail').length, 2);
  });
});

describe('the question DM', () => {
  it('is one chat.postMessage to the user id; the DM channel comes back for later updates', async () => {
    const messenger = createSlackMessenger({ client, logger: silentLogger() });
    slack.clearRecords();
    const now = new Date().toISOString();
    const verification: Verification = {
      id: 'v_test',
      engineerKey: 'U0OMAR',
      state: 'OPEN',
      createdAt: now,
      updatedAt: now,
      deadline: new Date(Date.now() + 900_000).toISOString(),
      callCount: 1,
      eventIds: ['e-1'],
      preview: [],
      lastCallAt: now,
      history: [],
      dmStatus: 'sending',
      needsUpdate: false,
    };
    const ref = await messenger.askEngineer({ verification, calls: [] });
    assert.equal(ref.channel, slack.dmChannelId('U0OMAR'));
    assert.deepEqual(
      slack.calls.map((c) => c.method),
      ['chat.postMessage'],
    );
    assert.equal(slack.messages(ref.channel).length, 1);
  });
});
