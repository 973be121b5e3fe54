import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WebClient } from '@slack/web-api';
import { principalOf } from '../../cloudtrail/principal.js';
import { parseIdentityMap } from '../../integrations/identity-map.js';
import { createSlackDirectory } from '../../integrations/slack-directory.js';
import { ConfigError } from '../../lib/errors.js';
import { silentLogger } from '../../logging/logger.js';
import { iamUser, makeRecord, ssoUser } from '../helpers/events.js';
import { type SlackServer, startSlackServer } from '../helpers/slack-server.js';

let slack: SlackServer;
let client: WebClient;
before(async () => {
  slack = await startSlackServer();
  client = new WebClient(slack.botToken, { slackApiUrl: slack.apiUrl, retryConfig: { retries: 0 } });
  slack.addUser({ id: 'U0ALICE', name: 'alice', email: 'alice@example.com' });
  slack.addUser({ id: 'U0DANA', name: 'dana', email: 'dana@example.com' });
  slack.addUser({ id: 'U0GONE', name: 'gone', email: 'gone@example.com', deleted: true });
  slack.addUser({ id: 'U0BOT', name: 'robot', email: 'robot@example.com', is_bot: true });
  slack.addUser({ id: 'U0SMITH', name: 'bsmith', email: 'bob.smith@example.com' });
});
after(async () => {
  await slack.stop();
});

const principal = (identity: Record<string, unknown>) => principalOf(makeRecord({ userIdentity: identity }));

describe('engineer resolution through Slack', () => {
  const map = parseIdentityMap(`
- principal: "arn:aws:iam::*:user/bob"
  slack: bob.smith@example.com
- principal: ci-breakglass
  slack: U0ALICE
`);

  it('uses the identity map first, then the principal email, then the IAM user name at the domain', async () => {
    const dir = createSlackDirectory({
      client,
      identityMap: map,
      emailDomain: 'example.com',
      logger: silentLogger(),
    });
    const bob = await dir.resolve(principal(iamUser('bob')));
    assert.deepEqual(bob, {
      ok: true,
      engineer: { key: 'U0SMITH', slackUserId: 'U0SMITH', email: 'bob.smith@example.com', via: 'map' },
    });
    const breakglass = await dir.resolve(principal(iamUser('ci-breakglass')));
    assert.equal(breakglass.ok && breakglass.engineer.slackUserId, 'U0ALICE');
    const dana = await dir.resolve(principal(ssoUser('dana@example.com')));
    assert.equal(dana.ok && dana.engineer.via, 'email');
    const alice = await dir.resolve(principal(iamUser('alice')));
    assert.deepEqual(alice.ok && [alice.engineer.slackUserId, alice.engineer.via], ['U0ALICE', 'domain']);
  });

  it('fails closed: no match, a deactivated user, a bot, a directory that cannot answer', async () => {
    const dir = createSlackDirectory({ client, emailDomain: 'example.com', logger: silentLogger() });
    const nobody = await dir.resolve(principal(iamUser('nobody')));
    assert.equal(nobody.ok, false);
    assert.match(!nobody.ok ? nobody.reason : '', /no Slack user has the email nobody@example\.com/);
    const gone = await dir.resolve(principal(iamUser('gone')));
    assert.equal(gone.ok, false);
    const robot = await dir.resolve(principal(iamUser('robot')));
    assert.match(!robot.ok ? robot.reason : '', /bot/);
    slack.failNext('users.lookupByEmail', { status: 500, times: 1 });
    const down = await dir.resolve(principal(iamUser('dana')));
    assert.match(!down.ok ? down.reason : '', /Slack directory unavailable/);
    const noDomain = createSlackDirectory({ client, logger: silentLogger() });
    assert.equal((await noDomain.resolve(principal(iamUser('alice')))).ok, false);
  });

  it('caches lookups for the TTL', async () => {
    let now = 0;
    const dir = createSlackDirectory({
      client,
      emailDomain: 'example.com',
      logger: silentLogger(),
      ttlMs: 60_000,
      clock: () => now,
    });
    const before = slack.callsTo('users.lookupByEmail').length;
    const p = principal(iamUser('alice'));
    await dir.resolve(p);
    await dir.resolve(p);
    assert.equal(slack.callsTo('users.lookupByEmail').length, before + 1);
    now = 61_000;
    await dir.resolve(p);
    assert.equal(slack.callsTo('users.lookupByEmail').length, before + 2);
  });

  it('refuses a broken identity map with the entry and the reason', () => {
    assert.throws(
      () => parseIdentityMap('- principal: x\n  slack: not-a-user'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /SECBOT_IDENTITY_MAP: .*entry 0: slack must be a Slack user ID/);
        return true;
      },
    );
    assert.throws(() => parseIdentityMap('- principal: [unclosed'), /SECBOT_IDENTITY_MAP: identity map:1/);
  });
});
