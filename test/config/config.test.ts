import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/index.js';
import { ConfigError } from '../../lib/errors.js';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('runs on embedded defaults in shadow mode with an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.shadow, true);
    assert.match(c.shadowReason ?? '', /no Slack tokens/);
    assert.equal(c.queue.embedded, true);
    assert.equal(c.table.embedded, true);
    assert.equal(c.table.name, 'secbot');
    assert.equal(c.verifyTimeoutMs, 15 * 60_000);
    assert.equal(c.policy.maxAgeMs, 3_600_000);
    assert.equal(c.schedule, '*/15 * * * * *');
    assert.equal(c.slack.apiUrl, 'https://slack.com/api/');
    assert.equal(c.pagerDuty.eventsUrl, 'https://events.pagerduty.com/v2/enqueue');
    assert.equal(c.duo, undefined);
  });

  it('goes live when both Slack tokens are set and shadow is not asked for', () => {
    const c = loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1' });
    assert.equal(c.shadow, false);
    assert.equal(
      loadConfig({ SLACK_BOT_TOKEN: 'xoxb-1', SLACK_APP_TOKEN: 'xapp-1', SECBOT_SHADOW: 'true' }).shadow,
      true,
    );
  });

  it('uses a real table when an endpoint or AWS credentials are present', () => {
    assert.equal(loadConfig({ AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000' }).table.embedded, false);
    assert.equal(loadConfig({ AWS_PROFILE: 'security' }).table.embedded, false);
    assert.equal(
      loadConfig({ SECBOT_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/1/q' }).queue.embedded,
      false,
    );
  });

  it('parses durations with s, m, h and d units', () => {
    const c = loadConfig({ SECBOT_VERIFY_TIMEOUT: '8s', SECBOT_MAX_AGE: '2h', SECBOT_DUO_TIMEOUT: '1m' });
    assert.equal(c.verifyTimeoutMs, 8_000);
    assert.equal(c.policy.maxAgeMs, 7_200_000);
    assert.equal(c.duo, undefined);
    assert.equal(loadConfig({ SECBOT_MAX_AGE: '7d' }).policy.maxAgeMs, 7 * 86_400_000);
  });

  it('names the variable and what was wrong for each kind of bad value', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ SECBOT_VERIFY_TIMEOUT: '15x' }, 'SECBOT_VERIFY_TIMEOUT', /not a duration/],
      [{ SECBOT_VERIFY_TIMEOUT: '0m' }, 'SECBOT_VERIFY_TIMEOUT', /not a duration/],
      [{ SECBOT_STAFF: 'U123,alice' }, 'SECBOT_STAFF', /user ID/],
      [{ SLACK_API_URL: 'not a url' }, 'SLACK_API_URL', /URL/],
      [{ SLACK_BOT_TOKEN: 'xoxp-user' }, 'SLACK_BOT_TOKEN', /bot token/],
      [{ SLACK_BOT_TOKEN: 'xoxb-1' }, 'SLACK_APP_TOKEN', /Socket Mode/],
      [{ SECBOT_SCHEDULE: 'every minute' }, 'SECBOT_SCHEDULE', /node-cron/],
      [{ SECBOT_SHADOW: 'maybe' }, 'SECBOT_SHADOW', /boolean/],
      [{ SECBOT_ALERT_CHANNEL: '#security' }, 'SECBOT_ALERT_CHANNEL', /channel ID/],
      [{ DUO_IKEY: 'DIXXXXXXXXXXXXXXXXXX' }, 'DUO_SKEY', /go together/],
      [{ SECBOT_FAILED_CALLS: 'drop' }, 'SECBOT_FAILED_CALLS', /log|keep/],
    ];
    for (const [env, variable, message] of cases) {
      const err = configError(env);
      assert.equal(err.variable, variable, `${JSON.stringify(env)} → ${err.message}`);
      assert.match(err.message, new RegExp(variable));
      assert.match(err.message, message);
    }
  });

  it('reads lists of staff and automation principals', () => {
    const c = loadConfig({
      SECBOT_STAFF: 'U01, S02 ,',
      SECBOT_AUTOMATION_PRINCIPALS: 'arn:aws:iam::*:role/ci-*,arn:aws:sts::*:assumed-role/terraform/*',
    });
    assert.deepEqual(c.slack.staff, ['U01', 'S02']);
    assert.deepEqual(c.policy.automation, [
      'arn:aws:iam::*:role/ci-*',
      'arn:aws:sts::*:assumed-role/terraform/*',
    ]);
  });
});
