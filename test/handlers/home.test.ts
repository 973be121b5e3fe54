import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { createHomeService, type HomeContent, notifyingStore } from '../../handlers/home.js';
import type { Store } from '../../store/store.js';

const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Just enough store for the Home's reads. */
const emptyStore = {
  readCounters: async () => ({}),
  listVerifications: async () => [],
  listAlerts: async () => [],
  listActiveSilences: async () => [],
  listEngineerVerifications: async () => [],
} as unknown as Store;

function service(opts: { debounceMs?: number; viewerTtlMs?: number; clock?: () => Date } = {}) {
  const published: { user: string; kind: HomeContent['kind'] }[] = [];
  const home = createHomeService({
    store: emptyStore,
    staff: { isStaff: async (u) => u === 'U0STAFF' },
    publisher: {
      async publish(user, content) {
        published.push({ user, kind: content.kind });
      },
    },
    logger,
    debounceMs: opts.debounceMs ?? 40,
    viewerTtlMs: opts.viewerTtlMs,
    clock: opts.clock,
  });
  return { home, published };
}

describe('the App Home service', () => {
  it('publishes on open: the staff Home for staff, the engineer Home for everyone else', async () => {
    const { home, published } = service();
    await home.opened('U0STAFF');
    await home.opened('U0ENG');
    assert.deepEqual(published, [
      { user: 'U0STAFF', kind: 'staff' },
      { user: 'U0ENG', kind: 'engineer' },
    ]);
    await home.stop();
  });

  it('many changes within the window refresh each recent viewer once', async () => {
    const { home, published } = service({ debounceMs: 40 });
    await home.opened('U0STAFF');
    await home.opened('U0ENG');
    published.length = 0;
    for (let i = 0; i < 20; i++) home.changed();
    await sleep(120);
    assert.deepEqual(published.map((p) => p.user).sort(), ['U0ENG', 'U0STAFF']);
    home.changed();
    await sleep(120);
    assert.equal(published.length, 4, 'a later change refreshes again');
    await home.stop();
  });

  it('forgets viewers who have not opened the Home within the TTL; nothing to refresh without viewers', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const { home, published } = service({ viewerTtlMs: 60_000, clock: () => new Date(now) });
    home.changed();
    await sleep(80);
    assert.equal(published.length, 0);
    await home.opened('U0ENG');
    now += 61_000;
    home.changed();
    await sleep(80);
    assert.equal(published.length, 1, 'only the open itself');
    assert.deepEqual(home.viewers(), []);
    await home.stop();
  });

  it('stop cancels a pending refresh', async () => {
    const { home, published } = service({ debounceMs: 30 });
    await home.opened('U0ENG');
    home.changed();
    await home.stop();
    await sleep(60);
    assert.equal(published.length, 1);
  });
});

describe('notifyingStore', () => {
  it('signals after writes that change a Home, not after reads or failed writes', async () => {
    let signals = 0;
    const base = {
      tableName: 't',
      createSilence: async () => ({ id: 's_1' }),
      deleteSilence: async () => {
        throw new Error('not found');
      },
      listActiveSilences: async () => [],
      claimEvent: async () => 'claimed',
    } as unknown as Store;
    const store = notifyingStore(base, () => signals++);
    assert.equal(store.tableName, 't');
    await store.listActiveSilences(new Date());
    await store.claimEvent('e', 'o', 1);
    assert.equal(signals, 0);
    await store.createSilence({} as never);
    assert.equal(signals, 1);
    await assert.rejects(store.deleteSilence('s_1', 'U0STAFF'));
    assert.equal(signals, 1);
  });
});
