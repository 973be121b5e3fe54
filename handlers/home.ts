/**
 * The App Home: what staff and engineers see (gathered from the store and the per-day counters),
 * published on app_home_opened and refreshed for recent viewers when what they see changes —
 * debounced, so a drain that changes a hundred things republishes each viewer once.
 */
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { AlertItem, AlertSeverity, Silence, Verification } from '../store/types.js';
import { type AccountRow, gatherAccounts } from './accounts.js';
import { type Figures, figuresFrom, lastDays, noisiestRules, type RuleNoise } from './metrics.js';
import type { StaffGuard } from './staff.js';

/** How many open items of each kind the staff Home reads (the view shows the most urgent of them). */
export const HOME_READ_LIMIT = 500;
/** How many of their own verifications an engineer sees. */
export const ENGINEER_RECENT = 10;

export interface StaffHome {
  kind: 'staff';
  at: string;
  today: Figures;
  week: Figures;
  /** Noisiest rules over the 7 days. */
  rules: RuleNoise[];
  /** OPEN and DUO_PENDING, nearest deadline first. */
  verifications: Verification[];
  /** OPEN then ACKNOWLEDGED; most severe, then longest waiting, first. */
  alerts: AlertItem[];
  /** Soonest expiry first. */
  silences: Silence[];
  /** Each account's last heartbeat and last call (late heartbeats first), when secbot watches them. */
  accounts?: AccountRow[];
}

export interface EngineerHome {
  kind: 'engineer';
  at: string;
  userId: string;
  /** Their own verifications, newest first. */
  verifications: Verification[];
}

export type HomeContent = StaffHome | EngineerHome;

/** Publishes a Home (the Slack adapter renders it with views/home.ts and calls views.publish). */
export interface HomePublisher {
  publish(userId: string, content: HomeContent): Promise<void>;
}

const SEVERITY_RANK: Record<AlertSeverity, number> = { critical: 0, error: 1, warning: 2, info: 3 };

/** Alerts in the order staff should look at them. */
export function byUrgency(a: AlertItem, b: AlertItem): number {
  if (a.state !== b.state) return a.state === 'OPEN' ? -1 : 1;
  const s = SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
  if (s !== 0) return s;
  return a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0;
}

/** What the staff Home needs to show accounts (README "Watching the watcher"). */
export interface HomeWatch {
  heartbeatLateMs: number;
  accountAliases?: Readonly<Record<string, string>>;
}

export async function gatherStaffHome(store: Store, now: Date, watch?: HomeWatch): Promise<StaffHome> {
  const days = lastDays(now, 7);
  const [today, week, open, pending, openAlerts, ackedAlerts, silences, accounts] = await Promise.all([
    store.readCounters(days.slice(0, 1)),
    store.readCounters(days),
    store.listVerifications('OPEN', { limit: HOME_READ_LIMIT }),
    store.listVerifications('DUO_PENDING', { limit: HOME_READ_LIMIT }),
    store.listAlerts('OPEN', { limit: HOME_READ_LIMIT }),
    store.listAlerts('ACKNOWLEDGED', { limit: HOME_READ_LIMIT }),
    store.listActiveSilences(now),
    watch ? gatherAccounts(store, now, watch) : undefined,
  ]);
  return {
    kind: 'staff',
    at: now.toISOString(),
    today: figuresFrom(today),
    week: figuresFrom(week),
    rules: noisiestRules(week),
    verifications: [...pending, ...open].sort((a, b) =>
      a.deadline < b.deadline ? -1 : a.deadline > b.deadline ? 1 : 0,
    ),
    alerts: [...openAlerts, ...ackedAlerts].sort(byUrgency),
    silences: silences.sort((a, b) => (a.expiresAt < b.expiresAt ? -1 : a.expiresAt > b.expiresAt ? 1 : 0)),
    ...(accounts ? { accounts } : {}),
  };
}

export async function gatherEngineerHome(store: Store, userId: string, now: Date): Promise<EngineerHome> {
  return {
    kind: 'engineer',
    at: now.toISOString(),
    userId,
    verifications: await store.listEngineerVerifications(userId, { limit: ENGINEER_RECENT }),
  };
}

export interface HomeServiceDeps {
  store: Store;
  staff: StaffGuard;
  publisher: HomePublisher;
  logger: Logger;
  clock?: () => Date;
  /** Changes within this window make one refresh (default 5 s): each viewer is republished at most once per window. */
  debounceMs?: number;
  /** A viewer who opened the Home this recently is refreshed on changes (default 30 min). */
  viewerTtlMs?: number;
  /** Show each account's heartbeat and last call to staff. */
  watch?: HomeWatch;
}

export interface HomeService {
  /** app_home_opened: remember the viewer and publish their Home now. */
  opened(userId: string): Promise<void>;
  /** Publish one user's Home now (after they pressed a button in it). */
  refresh(userId: string): Promise<void>;
  /** Something viewers see changed: refresh every recent viewer once the debounce window closes. */
  changed(): void;
  /** Viewers currently remembered (for tests and status). */
  viewers(): string[];
  stop(): Promise<void>;
}

export function createHomeService(deps: HomeServiceDeps): HomeService {
  const clock = deps.clock ?? (() => new Date());
  const debounceMs = deps.debounceMs ?? 5_000;
  const viewerTtlMs = deps.viewerTtlMs ?? 30 * 60_000;
  const viewers = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  async function publishFor(userId: string, staffHome?: () => Promise<StaffHome>): Promise<void> {
    const now = clock();
    const content = (await deps.staff.isStaff(userId))
      ? await (staffHome?.() ?? gatherStaffHome(deps.store, now, deps.watch))
      : await gatherEngineerHome(deps.store, userId, now);
    await deps.publisher.publish(userId, content);
  }

  async function refreshViewers(): Promise<void> {
    const cutoff = clock().getTime() - viewerTtlMs;
    for (const [user, at] of viewers) if (at < cutoff) viewers.delete(user);
    if (viewers.size === 0) return;
    // Staff all see the same Home: gather it once per refresh.
    let staffHome: Promise<StaffHome> | undefined;
    const shared = () => {
      staffHome ??= gatherStaffHome(deps.store, clock(), deps.watch);
      return staffHome;
    };
    for (const user of [...viewers.keys()]) {
      if (stopped) return;
      await publishFor(user, shared).catch((err) =>
        deps.logger.warn({ err }, `home: could not refresh the App Home of ${user}`),
      );
    }
  }

  function schedule(): void {
    if (stopped || timer) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (running) {
        schedule(); // a refresh is still publishing: the next one follows it
        return;
      }
      running = refreshViewers()
        .catch((err) => deps.logger.warn({ err }, 'home: refresh failed'))
        .finally(() => {
          running = undefined;
        });
    }, debounceMs);
    timer.unref?.();
  }

  return {
    async opened(userId) {
      viewers.set(userId, clock().getTime());
      await publishFor(userId);
    },
    refresh: (userId) => publishFor(userId),
    changed: schedule,
    viewers: () => [...viewers.keys()],
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}

/** Store methods whose success changes what a Home shows. */
const HOME_CHANGES = [
  'addNotifyCall',
  'addNotifyCalls',
  'transitionVerification',
  'createAlert',
  'acknowledgeAlert',
  'resolveAlert',
  'markPageSent',
  'createSilence',
  'deleteSilence',
  'recordSilenceHit',
  'incrementCounters',
] as const satisfies readonly (keyof Store)[];

/**
 * The store, calling `onChange` after every successful write that changes what a Home shows. Every
 * path (drain, sweep, answers, Duo, buttons, commands) goes through the store, so none is missed.
 */
export function notifyingStore(store: Store, onChange: () => void): Store {
  const wrapped: Store = { ...store };
  for (const name of HOME_CHANGES) {
    const original = store[name] as (...args: unknown[]) => Promise<unknown>;
    (wrapped as unknown as Record<string, unknown>)[name] = async (...args: unknown[]) => {
      const result = await original.apply(store, args);
      onChange();
      return result;
    };
  }
  return wrapped;
}
