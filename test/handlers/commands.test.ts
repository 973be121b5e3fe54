import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  echo,
  MAX_SILENCE_MS,
  parseCommand,
  parseSelector,
  requiresStaff,
  SUBCOMMANDS,
  slackTextToPlain,
} from '../../handlers/commands.js';

const invalid = (text: string) => {
  const c = parseCommand(text);
  assert.equal(c.kind, 'invalid', `${text} should be refused, got ${JSON.stringify(c)}`);
  return c as Extract<typeof c, { kind: 'invalid' }>;
};

describe('parseCommand', () => {
  it('help: empty text, help, and help for one subcommand', () => {
    assert.deepEqual(parseCommand(''), { kind: 'help' });
    assert.deepEqual(parseCommand('  HELP '), { kind: 'help' });
    assert.deepEqual(parseCommand('help Silence'), { kind: 'help', topic: 'silence' });
    assert.equal(invalid('help nope').subcommand, undefined);
  });

  it('status, silences and unsilence, case-insensitive; unsilence normalises the id', () => {
    assert.deepEqual(parseCommand('Status'), { kind: 'status' });
    assert.deepEqual(parseCommand('silences'), { kind: 'silences' });
    assert.deepEqual(parseCommand('unsilence s_01jdx3m4k8zq7w2r9t5yb6c1de'), {
      kind: 'unsilence',
      id: 's_01JDX3M4K8ZQ7W2R9T5YB6C1DE',
    });
  });

  it('silence with each selector kind, the examples of the issue, and the reason kept whole', () => {
    const cases: [string, { kind: string; value: string }, number][] = [
      [
        'silence rule:iam-create-access-key 30m rotation',
        { kind: 'rule', value: 'iam-create-access-key' },
        1_800_000,
      ],
      ['silence event:CreateUser 4h onboarding', { kind: 'event', value: 'CreateUser' }, 14_400_000],
      [
        'silence principal:arn:aws:sts::*:assumed-role/ci-*/* 2d ci',
        { kind: 'principal', value: 'arn:aws:sts::*:assumed-role/ci-*/*' },
        172_800_000,
      ],
      ['silence user:<@U0ALICE|alice> 30s drill', { kind: 'user', value: 'U0ALICE' }, 30_000],
      ['silence user:<@W0ALICE> 1m drill', { kind: 'user', value: 'W0ALICE' }, 60_000],
      ['silence USER:U0ALICE 1m drill', { kind: 'user', value: 'U0ALICE' }, 60_000],
      [
        'silence account:111122223333 30d rebuild',
        { kind: 'account', value: '111122223333' },
        MAX_SILENCE_MS,
      ],
    ];
    for (const [text, selector, durationMs] of cases) {
      const c = parseCommand(text);
      assert.equal(c.kind, 'silence', text);
      if (c.kind !== 'silence') continue;
      assert.deepEqual(c.selector, selector, text);
      assert.equal(c.durationMs, durationMs, text);
    }
    const c = parseCommand(
      'silence event:CreateUser 4h   CHG-1234:  rotate <@U0BOB|bob> &amp; <https://x.example|the doc>',
    );
    assert.equal(c.kind === 'silence' && c.reason, 'CHG-1234: rotate @bob & the doc');
  });

  it('a mention whose label has spaces stays one token', () => {
    const c = parseCommand('silence user:<@U0ALICE|alice smith> 1h drill');
    assert.equal(c.kind === 'silence' && c.selector.value, 'U0ALICE');
    assert.equal(c.kind === 'silence' && c.reason, 'drill');
  });

  it('every kind of bad input is refused with the subcommand whose usage to show', () => {
    const bad: [string, string | undefined, RegExp][] = [
      ['frobnicate', undefined, /no subcommand `frobnicate`/],
      ['status now', 'status', /takes no arguments/],
      ['silences mine', 'silences', /takes no arguments/],
      ['unsilence', 'unsilence', /which silence/],
      ['unsilence s_short', 'unsilence', /not a silence id/],
      ['unsilence s_01JDX3M4K8ZQ7W2R9T5YB6C1DE extra', 'unsilence', /takes no more arguments/],
      ['silence', 'silence', /selector is required/],
      ['silence CreateUser 4h x', 'silence', /is not a selector/],
      ['silence team:x 4h x', 'silence', /is not a selector/],
      ['silence event: 4h x', 'silence', /needs a value/],
      ['silence event:Create-User 4h x', 'silence', /one CloudTrail event name/],
      ['silence rule:* 4h x', 'silence', /every rule/],
      ['silence rule:has space 4h x', 'silence', /duration/],
      ['silence rule:bad/char 4h x', 'silence', /rule id or a glob/],
      ['silence principal:alice 4h x', 'silence', /ARN or an ARN glob/],
      ['silence principal:* 4h x', 'silence', /every principal/],
      ['silence principal:arn:* 4h x', 'silence', /every principal/],
      ['silence principal:arn:aws:*:*:*:* 4h x', 'silence', /every principal/],
      ['silence user:alice 4h x', 'silence', /Slack mention/],
      ['silence user:<#C0123|general> 4h x', 'silence', /Slack mention/],
      ['silence account:1234 4h x', 'silence', /12-digit/],
      ['silence event:CreateUser', 'silence', /duration is required/],
      ['silence event:CreateUser 4 hours', 'silence', /`4` is not a duration/],
      ['silence event:CreateUser 1.5h x', 'silence', /not a duration/],
      ['silence event:CreateUser -1h x', 'silence', /not a duration/],
      ['silence event:CreateUser 0s x', 'silence', /not a duration/],
      ['silence event:CreateUser 2w x', 'silence', /not a duration/],
      ['silence event:CreateUser 31d x', 'silence', /at most 30 days/],
      ['silence event:CreateUser 721h x', 'silence', /at most 30 days/],
      ['silence event:CreateUser 4h', 'silence', /reason is required/],
      [`silence event:CreateUser 4h ${'x'.repeat(501)}`, 'silence', /under 500/],
    ];
    for (const [text, sub, problem] of bad) {
      const c = invalid(text);
      assert.equal(c.subcommand, sub, text);
      assert.match(c.problem, problem, text);
    }
  });

  it('echoed input is inert mrkdwn: no mention, link or code-span escape survives', () => {
    const c = invalid('silence <!channel>:x 4h x');
    assert.ok(!c.problem.includes('<!channel>'));
    assert.equal(echo('<!here> `x` <https://evil.example|y> & z'), '`@here x y &amp; z`');
    assert.equal(echo('a'.repeat(100), 10), `\`${'a'.repeat(9)}…\``);
  });
});

describe('who may run what', () => {
  it('help and unknown words are open to anyone; every other subcommand is staff-only', () => {
    assert.equal(requiresStaff(''), false);
    assert.equal(requiresStaff('help status'), false);
    assert.equal(requiresStaff('frobnicate'), false);
    for (const sub of ['status', 'silence x', 'SILENCES', 'unsilence s_1'])
      assert.equal(requiresStaff(sub), true, sub);
    assert.deepEqual(
      Object.values(SUBCOMMANDS)
        .filter((s) => !s.staff)
        .map((s) => s.name),
      ['help'],
    );
  });
});

describe('selectors and Slack text', () => {
  it('parseSelector refuses what would silence everything', () => {
    assert.ok('problem' in parseSelector('rule:?*'));
    assert.deepEqual(parseSelector('rule:iam-*'), { kind: 'rule', value: 'iam-*' });
    assert.deepEqual(parseSelector('principal:arn:aws:iam::111122223333:*'), {
      kind: 'principal',
      value: 'arn:aws:iam::111122223333:*',
    });
  });

  it('slackTextToPlain decodes mentions, channels, specials, links and entities', () => {
    assert.equal(
      slackTextToPlain('<@U1|al> <#C1|gen> <!here> <!subteam^S1|@sec> <https://a.example> &lt;b&gt; &amp;'),
      '@al #gen @here @@sec https://a.example <b> &',
    );
  });
});
