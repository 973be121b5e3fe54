/**
 * Who is security staff: `SECBOT_STAFF` user IDs, and members of its user groups (resolved with
 * `usergroups.users.list`, cached with a TTL). The one place staff checks live.
 */
import type { Logger } from 'pino';

export interface UserGroupMembers {
  /** Members of a Slack user group. */
  members(groupId: string): Promise<string[]>;
}

export interface StaffGuard {
  isStaff(userId: string): Promise<boolean>;
}

export const STAFF_ONLY_MESSAGE =
  'Sorry — that is for the security team only (the staff listed in SECBOT_STAFF). Nothing was changed.';

export function createStaffGuard(opts: {
  staff: readonly string[];
  groups: UserGroupMembers;
  logger: Logger;
  ttlMs?: number;
  clock?: () => number;
}): StaffGuard {
  const users = new Set(opts.staff.filter((s) => s.startsWith('U') || s.startsWith('W')));
  const groupIds = opts.staff.filter((s) => s.startsWith('S'));
  const ttl = opts.ttlMs ?? 300_000;
  const now = opts.clock ?? Date.now;
  const cache = new Map<string, { until: number; members: Set<string> }>();

  async function membersOf(group: string): Promise<Set<string>> {
    const hit = cache.get(group);
    if (hit && hit.until > now()) return hit.members;
    try {
      const members = new Set(await opts.groups.members(group));
      cache.set(group, { until: now() + ttl, members });
      return members;
    } catch (err) {
      // Fail closed for new lookups; keep serving a stale answer rather than locking staff out.
      opts.logger.warn({ err }, `staff: cannot list members of user group ${group}`);
      return hit?.members ?? new Set();
    }
  }

  return {
    async isStaff(userId) {
      if (users.has(userId)) return true;
      for (const g of groupIds) if ((await membersOf(g)).has(userId)) return true;
      return false;
    },
  };
}
