import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createStaffGuard } from '../../handlers/staff.js';

const logger = pino({ level: 'silent' });

function groups(initial: Record<string, string[]>) {
  const members = { ...initial };
  let calls = 0;
  let failing = false;
  return {
    members,
    get calls() {
      return calls;
    },
    fail(on: boolean) {
      failing = on;
    },
    source: {
      async members(id: string) {
        calls++;
        if (failing) throw new Error('slack down');
        return members[id] ?? [];
      },
    },
  };
}

describe('the staff guard', () => {
  it('user ids are staff; group members are staff; everyone else is not', async () => {
    const g = groups({ S0SEC: ['U0GROUPIE'] });
    const guard = createStaffGuard({ staff: ['U0ALICE', 'S0SEC'], groups: g.source, logger });
    assert.equal(await guard.isStaff('U0ALICE'), true);
    assert.equal(await guard.isStaff('U0GROUPIE'), true);
    assert.equal(await guard.isStaff('U0MALLORY'), false);
  });

  it('caches membership for the TTL, then lists the group again', async () => {
    let now = 0;
    const g = groups({ S0SEC: ['U0GROUPIE'] });
    const guard = createStaffGuard({
      staff: ['S0SEC'],
      groups: g.source,
      logger,
      ttlMs: 1000,
      clock: () => now,
    });
    assert.equal(await guard.isStaff('U0GROUPIE'), true);
    g.members.S0SEC = ['U0NEW'];
    assert.equal(await guard.isStaff('U0NEW'), false, 'still the cached membership');
    assert.equal(g.calls, 1);
    now = 1001;
    assert.equal(await guard.isStaff('U0NEW'), true, 'membership changes apply after the TTL');
    assert.equal(await guard.isStaff('U0GROUPIE'), false);
    assert.equal(g.calls, 2);
  });

  it('fails closed for a group it never listed, and keeps a stale answer when Slack is down', async () => {
    let now = 0;
    const g = groups({ S0SEC: ['U0GROUPIE'] });
    const guard = createStaffGuard({
      staff: ['S0SEC'],
      groups: g.source,
      logger,
      ttlMs: 1000,
      clock: () => now,
    });
    g.fail(true);
    assert.equal(await guard.isStaff('U0GROUPIE'), false, 'unknown membership is not staff');
    g.fail(false);
    assert.equal(await guard.isStaff('U0GROUPIE'), true);
    now = 5000;
    g.fail(true);
    assert.equal(await guard.isStaff('U0GROUPIE'), true, 'a stale list beats locking staff out');
  });
});
