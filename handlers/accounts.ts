/**
 * Each monitored account as staff see it (`/secbot status`, the App Home): its last heartbeat, its last
 * decided call, and the lag from eventTime to decision (p50 / p95, approximated from the histogram of
 * today and yesterday, UTC: see handlers/lag.ts).
 */
import type { Store } from '../store/store.js';
import { lagQuantiles, type QuantileEstimate } from './lag.js';
import { lastDays } from './metrics.js';

export interface AccountRow {
  account: string;
  alias?: string;
  lastHeartbeatAt?: string;
  lastHeartbeatRegion?: string;
  lastEventAt?: string;
  /** The account has sent heartbeats, and none for longer than the late threshold. */
  heartbeatLate: boolean;
  lag: { p50?: QuantileEstimate; p95?: QuantileEstimate };
}

/** Days of lag histogram read: today and yesterday (UTC). */
export const LAG_DAYS = 2;

/** Accounts, late heartbeats first, then by account id. */
export async function gatherAccounts(
  store: Pick<Store, 'listAccounts' | 'readAccountLag'>,
  now: Date,
  opts: { heartbeatLateMs: number; accountAliases?: Readonly<Record<string, string>> },
): Promise<AccountRow[]> {
  const [accounts, lag] = await Promise.all([
    store.listAccounts(),
    store.readAccountLag(lastDays(now, LAG_DAYS)),
  ]);
  const ids = new Set([...accounts.map((a) => a.account), ...lag.keys()]);
  const byId = new Map(accounts.map((a) => [a.account, a]));
  const rows = [...ids].map((account): AccountRow => {
    const a = byId.get(account);
    return {
      account,
      alias: opts.accountAliases?.[account],
      lastHeartbeatAt: a?.lastHeartbeatAt,
      lastHeartbeatRegion: a?.lastHeartbeatRegion,
      lastEventAt: a?.lastEventAt,
      heartbeatLate:
        a?.lastHeartbeatAt !== undefined &&
        now.getTime() - Date.parse(a.lastHeartbeatAt) > opts.heartbeatLateMs,
      lag: lagQuantiles(lag.get(account) ?? {}),
    };
  });
  return rows.sort(
    (x, y) =>
      Number(y.heartbeatLate) - Number(x.heartbeatLate) ||
      (x.account < y.account ? -1 : x.account > y.account ? 1 : 0),
  );
}
