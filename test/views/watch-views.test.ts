/** The views for accounts, the watchdog and staged rules: Slack's limits and escaping. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AnyBlock } from '@slack/types';
import type { AccountRow } from '../../handlers/accounts.js';
import type { StaffHome } from '../../handlers/home.js';
import { figuresFrom } from '../../handlers/metrics.js';
import type { RuleFigures } from '../../handlers/rule-stages.js';
import type { StatusReport } from '../../handlers/status.js';
import { alertMessage } from '../../views/alert.js';
import { SLACK_LIMITS } from '../../views/format.js';
import { homeView } from '../../views/home.js';
import { rulesMessage } from '../../views/rules.js';
import { statusMessage } from '../../views/status.js';

const NOW = new Date('2026-03-02T12:00:00.000Z');
const EVIL = '<!channel> *bold* `tick`';
const iso = (ms: number) => new Date(NOW.getTime() + ms).toISOString();

function account(i: number): AccountRow {
  return {
    account: String(100000000000 + i),
    alias: i % 2 ? EVIL : undefined,
    lastHeartbeatAt: iso(-i * 60_000),
    lastHeartbeatRegion: 'us-east-1',
    lastEventAt: i % 3 ? iso(-i * 30_000) : undefined,
    heartbeatLate: i > 15,
    lag: {
      p50: { ms: 65_000, atLeast: false, samples: 10 },
      p95: { ms: 86_400_000, atLeast: true, samples: 10 },
    },
  };
}

function figures(i: number, stage: 'live' | 'shadow'): RuleFigures {
  return {
    ruleId: `rule-${i}-${'x'.repeat(40)}`,
    title: `${EVIL} rule ${i}`,
    action: 'notify',
    fileStage: 'live',
    stage,
    override: i % 4 === 0 ? { ruleId: `rule-${i}`, stage, by: 'U0STAFF', at: iso(0) } : undefined,
    live: { matches: 10 + i, asked: 5, engineers: 3, confirmed: 4, escalated: 1, confirmedShare: 0.8 },
    staged: {
      matches: stage === 'shadow' ? 7 : 0,
      wouldNotify: 5,
      wouldAlert: 1,
      wouldPage: 1,
      engineers: 2,
    },
    engineersCapped: i === 3,
  };
}

function limits(blocks: AnyBlock[], max: number) {
  assert.ok(blocks.length <= max, `${blocks.length} blocks`);
  for (const b of blocks) {
    const t = (b as { text?: { text?: string } }).text?.text;
    if (t !== undefined) {
      assert.ok(t.length > 0 && t.length <= SLACK_LIMITS.text, `a text of ${t.length}`);
    }
  }
  const text = JSON.stringify(blocks);
  assert.ok(!text.includes('<!channel>'), 'escaped');
}

describe('accounts, watchdog and rules views', () => {
  it('status lists 40 of 100 accounts, late first, with the open incidents', () => {
    const report: StatusReport = {
      at: NOW.toISOString(),
      queue: { ok: true, value: { visible: 0, inFlight: 0, delayed: 0 } },
      lastDrain: { ok: true, value: undefined },
      verifications: { ok: true, value: { open: 0, duoPending: 0, capped: false, oldest: [] } },
      alerts: { ok: true, value: { open: 0, acknowledged: 0, pagesPending: 0, capped: false } },
      silences: { ok: true, value: { active: 0, absorbed: 0 } },
      rules: { count: 1, warnings: [] },
      accounts: { ok: true, value: Array.from({ length: 100 }, (_, i) => account(i)) },
      watchdog: {
        ok: true,
        value: [
          {
            key: 'heartbeat:100000000016',
            kind: 'heartbeat',
            subject: '100000000016',
            state: 'OPEN',
            seq: 1,
            alertId: 'a_wd_x_1',
            alerted: true,
            page: true,
            openedAt: iso(-120_000),
            detail: 'x',
            updatedAt: iso(0),
          },
        ],
      },
      integrations: {
        slack: { ok: true, value: { state: 'ok', detail: 'ok' } },
        duo: { ok: true, value: { state: 'ok', detail: 'ok' } },
        pagerDuty: { state: 'ok', detail: 'ok' },
      },
      shadow: { on: false },
      version: '0.1.0',
    };
    const m = statusMessage(report);
    limits(m.blocks, SLACK_LIMITS.blocksPerMessage);
    const text = JSON.stringify(m.blocks);
    assert.match(text, /\*Accounts:\* 100, 84 with a late heartbeat :warning:/);
    assert.match(text, /…and 60 more accounts/);
    assert.match(text, /lag p50 ≈ 1m 5s, p95 over 1d 0h \(10 calls\)/);
    assert.match(
      text,
      /\*Watchdog:\* 1 open incident\(s\) :warning:\\n• heartbeat late `100000000016` · since 2m ago/,
    );
    const down = statusMessage({ ...report, accounts: { ok: false, error: 'table down' } });
    assert.match(JSON.stringify(down.blocks), /\*Accounts:\* could not be read \(table down\)/);
  });

  it('the staff Home keeps 100 blocks with accounts, alerts and the rest', () => {
    const h: StaffHome = {
      kind: 'staff',
      at: NOW.toISOString(),
      today: figuresFrom({}),
      week: figuresFrom({}),
      rules: [],
      verifications: [],
      alerts: Array.from({ length: 200 }, (_, i) => ({
        id: `a_${i}`,
        kind: 'call' as const,
        severity: 'warning' as const,
        summary: 's',
        eventIds: [],
        ruleIds: [],
        reasons: [],
        page: true,
        state: 'OPEN' as const,
        createdAt: iso(0),
        updatedAt: iso(0),
        pageStatus: 'sent' as const,
        pageAttempts: 0,
        channelStatus: 'sent' as const,
        history: [],
      })),
      silences: [],
      accounts: Array.from({ length: 30 }, (_, i) => account(i)),
    };
    const blocks = homeView(h).blocks;
    limits(blocks, SLACK_LIMITS.blocksPerView);
    assert.equal(blocks.length, 100);
    const text = JSON.stringify(blocks);
    assert.match(text, /Accounts \(30\) — 14 with a late heartbeat/);
    assert.match(text, /…and 6 more accounts/);
  });

  it('/secbot rules: staged first, 830 rules within 50 blocks, capped counts say "at least"', () => {
    const rules = [
      ...Array.from({ length: 30 }, (_, i) => figures(i, 'shadow')),
      ...Array.from({ length: 800 }, (_, i) => figures(100 + i, 'live')),
    ];
    const m = rulesMessage({ at: NOW.toISOString(), days: 7, rules });
    limits(m.blocks, SLACK_LIMITS.blocksPerMessage);
    const text = JSON.stringify(m.blocks);
    assert.match(text, /830 rules · 30 staged/);
    assert.ok(text.indexOf('Staged rules') < text.indexOf('Live rules that matched'));
    assert.match(text, /would have asked at least 2 engineer/);
    assert.match(text, /80% confirmed, 20% escalated \(of 5 closed\)/);
    assert.ok(/…and \d+ more rule\(s\) not shown/.test(text), 'the rest is counted');
  });

  it('a watchdog alert names no calls and says what it is', () => {
    const m = alertMessage({
      alert: {
        id: 'a_wd_dead_letter_1',
        kind: 'watchdog',
        severity: 'warning',
        summary: '2 message(s) in the dead-letter queue',
        eventIds: [],
        ruleIds: [],
        reasons: ['watchdog: dead_letter'],
        page: false,
        state: 'OPEN',
        createdAt: iso(0),
        updatedAt: iso(0),
        pageStatus: 'pending',
        pageAttempts: 0,
        channelStatus: 'pending',
        history: [],
      },
    });
    limits(m.blocks, SLACK_LIMITS.blocksPerMessage);
    const text = JSON.stringify(m.blocks);
    assert.match(text, /secbot watchdog/);
    assert.ok(!text.includes('*Calls:*'));
  });
});
