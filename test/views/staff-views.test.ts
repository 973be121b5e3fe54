/** The staff views: App Home (staff and engineer), status, silences and help — limits and escaping. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyBlock } from '@slack/types';
import type { EngineerHome, StaffHome } from '../../handlers/home.js';
import { figuresFrom, noisiestRules } from '../../handlers/metrics.js';
import type { StatusReport } from '../../handlers/status.js';
import type { AlertItem, Silence, Verification } from '../../store/types.js';
import { SLACK_LIMITS } from '../../views/format.js';
import { helpMessage } from '../../views/help.js';
import { ACTION_HOME_ACKNOWLEDGE, ACTION_HOME_UNSILENCE, homeView } from '../../views/home.js';
import { silenceCreatedMessage, silencesMessage } from '../../views/silences.js';
import { statusMessage } from '../../views/status.js';

const NOW = new Date('2026-03-02T12:00:00.000Z');
const EVIL = '<!channel> *bold* <https://evil.example|click> <@U0STAFF> `tick` & more';
const iso = (msFromNow: number) => new Date(NOW.getTime() + msFromNow).toISOString();

function verification(i: number, over: Partial<Verification> = {}): Verification {
  return {
    id: `v_${String(i).padStart(26, '0')}`,
    engineerKey: `U0ENG${i}`,
    state: 'OPEN',
    createdAt: iso(-i * 60_000),
    updatedAt: iso(-i * 60_000),
    deadline: iso((i + 1) * 60_000),
    callCount: 1 + (i % 3),
    eventIds: [`e${i}`],
    preview: [
      {
        eventId: `e${i}`,
        eventName: EVIL,
        eventSource: 'iam.amazonaws.com',
        eventTime: iso(-i * 60_000),
        ruleIds: ['r1'],
        action: 'notify',
      },
    ],
    lastCallAt: iso(0),
    history: [],
    dmStatus: 'sent',
    needsUpdate: false,
    ...over,
  };
}

function alert(i: number, over: Partial<AlertItem> = {}): AlertItem {
  return {
    id: `a_evt-${i}`,
    kind: 'call',
    severity: i % 7 === 0 ? 'critical' : 'warning',
    summary: `${EVIL} ${i}`,
    eventIds: [`evt-${i}`],
    ruleIds: ['r1'],
    reasons: [EVIL],
    page: true,
    state: i % 5 === 0 ? 'ACKNOWLEDGED' : 'OPEN',
    acknowledgedBy: i % 5 === 0 ? 'U0STAFF' : undefined,
    createdAt: iso(-i * 1000),
    updatedAt: iso(0),
    pageStatus: 'sent',
    pageAttempts: 0,
    channelStatus: 'sent',
    history: [],
    ...over,
  };
}

function silence(i: number): Silence {
  return {
    id: `s_${String(i).padStart(26, '0')}`,
    selector: { kind: 'principal', value: `arn:aws:iam::*:user/${EVIL}` },
    reason: EVIL,
    createdBy: 'U0STAFF',
    createdAt: iso(-3_600_000),
    expiresAt: iso((i + 1) * 3_600_000),
    hits: i,
  };
}

const counters = {
  'decided.log': 120,
  'decided.notify': 40,
  'decided.alert': 3,
  'verification.sent': 30,
  'verification.confirmed': 25,
  'verification.escalated': 3,
  'verification.escalated.no_answer': 2,
  'verification.escalated.denied_by_engineer': 1,
  'escalation.unattributed': 1,
  'confirm_time.le_1m': 10,
  'confirm_time.le_2m': 15,
  'page.sent': 4,
  'rule.r1.notify': 38,
  'rule.r1.confirmed': 25,
  'rule.r1.escalated': 1,
  'rule.r2.notify': 2,
};

function staffHome(n: { alerts: number; verifications: number; silences: number }): StaffHome {
  return {
    kind: 'staff',
    at: NOW.toISOString(),
    today: figuresFrom(counters),
    week: figuresFrom(counters),
    rules: noisiestRules(counters),
    verifications: Array.from({ length: n.verifications }, (_, i) => verification(i)),
    alerts: Array.from({ length: n.alerts }, (_, i) => alert(i)),
    silences: Array.from({ length: n.silences }, (_, i) => silence(i)),
  };
}

/** Everything Slack would parse as a mention, special or link must be absent; the evil text shows escaped. */
function assertInert(blocks: AnyBlock[] | undefined) {
  const text = JSON.stringify(blocks);
  for (const raw of ['<!channel>', '<https://evil', '<@U0STAFF> `', '<@U0STAFF> ˋ'])
    assert.ok(!text.includes(raw), `${raw} leaked`);
  // Formatting characters from CloudTrail survive only inside code spans (inert() strips them).
  assert.ok(!text.replace(/`[^`]*`/g, '').includes('*bold*'), '*bold* would format');
  assert.ok(text.includes('&lt;!channel&gt;'), 'shown escaped');
}

function assertBlockLimits(blocks: AnyBlock[], limit: number) {
  assert.ok(blocks.length <= limit, `${blocks.length} blocks > ${limit}`);
  const ids = blocks.map((b) => b.block_id).filter(Boolean);
  assert.equal(new Set(ids).size, ids.length, 'block ids are unique');
  for (const b of blocks) {
    const t = (b as { text?: { text?: string } }).text?.text;
    if (t) assert.ok(t.length <= SLACK_LIMITS.text, `a text of ${t.length} characters`);
  }
}

describe('staff App Home', () => {
  it('200 alerts, 200 verifications and 50 silences fit in exactly 100 blocks, most urgent first', () => {
    const view = homeView(staffHome({ alerts: 200, verifications: 200, silences: 50 }));
    assert.equal(view.type, 'home');
    assertBlockLimits(view.blocks, 100);
    assert.equal(view.blocks.length, 100);
    const text = JSON.stringify(view.blocks);
    assert.match(text, /…and \d+ more alerts/);
    assert.match(text, /…and 150 more verifications/);
    assert.match(text, /…and 30 more silences/);
    const titles = [
      'Open alerts (200)',
      'Open verifications (200)',
      'Active silences (50)',
      'Figures',
      'Noisiest rules',
    ];
    const at = titles.map((t) => text.indexOf(t));
    assert.ok(
      at.every((x, i) => x >= 0 && (i === 0 || x > (at[i - 1] ?? 0))),
      `sections in order: ${at}`,
    );
    assertInert(view.blocks);
  });

  it('Acknowledge only on unacknowledged alerts; Unsilence on every silence shown', () => {
    const h = staffHome({ alerts: 10, verifications: 0, silences: 3 });
    const blocks = homeView(h).blocks;
    const acks = blocks.filter((b) => JSON.stringify(b).includes(ACTION_HOME_ACKNOWLEDGE));
    assert.equal(acks.length, h.alerts.filter((a) => a.state === 'OPEN').length);
    const values = acks.map((b) => (b as { accessory?: { value?: string } }).accessory?.value);
    assert.deepEqual(
      values,
      h.alerts.filter((a) => a.state === 'OPEN').map((a) => a.id),
    );
    assert.equal(blocks.filter((b) => JSON.stringify(b).includes(ACTION_HOME_UNSILENCE)).length, 3);
  });

  it('shows the figures, the escalations by why, the median and the noisy rules with their confirmed share', () => {
    const text = JSON.stringify(
      homeView(staffHome({ alerts: 0, verifications: 0, silences: 0 }), {
        ruleTitles: new Map([['r1', 'Test user created']]),
      }).blocks,
    );
    assert.match(text, /Calls: 120 log · 40 notify · 3 alert/);
    assert.match(text, /Verifications: 30 sent · 25 confirmed · 3 escalated/);
    assert.match(text, /Median time to confirm: ≈ 1m 10s/);
    assert.match(text, /Pages sent: 4/);
    assert.match(text, /no answer by the deadline: 2 today, 2 in 7 days/);
    assert.match(text, /no Slack user could be found for the AWS principal: 1 today/);
    assert.match(
      text,
      /Test user created \(`r1`\): 38 asked · 96% confirmed \(of 26 closed\) · :bulb: candidate for `log`/,
    );
    assert.match(text, /`r2`: 2 asked · none closed yet/);
    assert.match(text, /Open alerts \(0\)/);
  });

  it('an empty Home is small and says so', () => {
    const h = staffHome({ alerts: 0, verifications: 0, silences: 0 });
    h.rules = [];
    const blocks = homeView(h).blocks;
    assertBlockLimits(blocks, 100);
    assert.match(JSON.stringify(blocks), /No rule asked an engineer in 7 days/);
  });
});

describe('engineer App Home', () => {
  it('explains secbot and lists their own questions in every state, escaped', () => {
    const h: EngineerHome = {
      kind: 'engineer',
      at: NOW.toISOString(),
      userId: 'U0ENG1',
      verifications: [
        verification(1),
        verification(2, { state: 'DUO_PENDING' }),
        verification(3, { state: 'CONFIRMED', closedAt: iso(0) }),
        verification(4, { state: 'ESCALATED', escalationReason: EVIL }),
      ],
    };
    const blocks = homeView(h).blocks;
    assertBlockLimits(blocks, 100);
    const text = JSON.stringify(blocks);
    for (const s of [
      'Why it asks',
      'Waiting for your answer',
      'Waiting for your Duo approval',
      'Confirmed',
      'Escalated',
    ])
      assert.ok(text.includes(s), s);
    assert.ok(!text.includes(ACTION_HOME_ACKNOWLEDGE) && !text.includes('Open alerts'));
    assertInert(blocks);
  });
});

describe('status, silences and help', () => {
  const report: StatusReport = {
    at: NOW.toISOString(),
    queue: { ok: true, value: { visible: 3, inFlight: 2, delayed: 0, deadLetter: { url: 'x', visible: 1 } } },
    lastDrain: {
      ok: true,
      value: { at: iso(-30_000), received: 5, decided: 4, errors: 1, durationMs: 1234 },
    },
    verifications: {
      ok: true,
      value: {
        open: 2,
        duoPending: 1,
        capped: false,
        oldest: [verification(9), verification(1, { state: 'DUO_PENDING' })],
      },
    },
    alerts: { ok: false, error: `store down ${EVIL}` },
    silences: { ok: true, value: { active: 2, absorbed: 7, nextExpiry: iso(3_600_000) } },
    rules: {
      count: 143,
      warnings: [{ severity: 'warning', file: 'rules/x.yml', line: 3, message: EVIL }],
    },
    integrations: {
      slack: { ok: true, value: { state: 'ok', detail: 'connected as @secbot' } },
      duo: { ok: true, value: { state: 'not_configured', detail: 'not configured' } },
      pagerDuty: { state: 'problem', detail: 'PAGERDUTY_ROUTING_KEY is not set' },
    },
    shadow: { on: false },
    version: '0.1.0',
  };

  it('status shows every part, problems included, within a message', () => {
    const m = statusMessage(report);
    assertBlockLimits(m.blocks, SLACK_LIMITS.blocksPerMessage);
    const text = JSON.stringify(m.blocks);
    for (const re of [
      /3 waiting · 2 in flight · 0 delayed · dead-letter queue: 1 :warning:/,
      /age of the oldest message unknown/,
      /received 5, decided 4, 1 errors :warning:, took 1.2 s/,
      /Open verifications:\* 2 \(1 waiting for Duo\)/,
      /<@U0ENG9>/,
      /Open alerts:\* could not be read/,
      /2 active, 7 call\(s\) absorbed · next ends in 1h/,
      /143 loaded, 1 warning/,
      /Duo: :heavy_minus_sign: not configured/,
      /version 0.1.0/,
    ])
      assert.match(text, re);
    assertInert(m.blocks);
  });

  it('silences: 60 fit in one message; each names who, why, until when and hits; escaped', () => {
    const m = silencesMessage(
      Array.from({ length: 60 }, (_, i) => silence(i)),
      NOW,
    );
    assertBlockLimits(m.blocks, SLACK_LIMITS.blocksPerMessage);
    const text = JSON.stringify(m.blocks);
    assert.match(text, /by <@U0STAFF>/);
    assert.match(text, /until <!date\^/);
    assert.match(text, /2 calls absorbed/);
    assert.match(text, /…and 20 more/);
    assertInert(m.blocks);
    assertInert(silenceCreatedMessage(silence(1), 3_600_000).blocks);
  });

  it('help lists every subcommand; usage answers carry the problem and say nothing changed', () => {
    const all = JSON.stringify(helpMessage().blocks);
    for (const s of ['help', 'status', 'silence', 'silences', 'unsilence'])
      assert.ok(all.includes(`/secbot ${s}`));
    const bad = helpMessage({ topic: 'silence', problem: 'a reason is required' });
    assert.match(JSON.stringify(bad.blocks), /a reason is required. Nothing was changed/);
    assert.match(bad.text, /Usage: \/secbot silence/);
  });
});
