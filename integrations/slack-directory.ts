/**
 * Principal → Slack user, in this order: the identity map, the email the principal carries
 * (`users.lookupByEmail`), the IAM user name at `SECBOT_EMAIL_DOMAIN`. Lookups are cached with a TTL.
 * No match, a deleted user, a bot, or a directory that cannot answer → unattributed (fail closed).
 */
import type { WebClient } from '@slack/web-api';
import type { Logger } from 'pino';
import type { Principal } from '../cloudtrail/principal-types.js';
import type { Engineer, EngineerDirectory, EngineerResolution } from '../handlers/ports.js';
import type { IdentityMap } from './identity-map.js';

export interface SlackUser {
  id: string;
  email?: string;
  name?: string;
}

export interface SlackDirectoryOptions {
  client: WebClient;
  identityMap?: IdentityMap;
  emailDomain?: string;
  logger: Logger;
  /** How long a found user is remembered (default 10 min); a miss is remembered for a tenth of it. */
  ttlMs?: number;
  clock?: () => number;
}

interface CacheEntry {
  until: number;
  value: EngineerResolution;
}

type Lookup = { ok: true; user: SlackUser } | { ok: false; reason: string };

export interface SlackDirectory extends EngineerDirectory {
  /** A Slack user's profile email (for the Duo username), cached. */
  emailOf(slackUserId: string): Promise<string | undefined>;
}

export function createSlackDirectory(opts: SlackDirectoryOptions): SlackDirectory {
  const ttl = opts.ttlMs ?? 600_000;
  const now = opts.clock ?? Date.now;
  const cache = new Map<string, CacheEntry>();
  const emails = new Map<string, { until: number; email?: string }>();

  const usable = (
    u:
      | { id?: string; deleted?: boolean; is_bot?: boolean; profile?: { email?: string }; name?: string }
      | undefined,
    what: string,
  ): Lookup => {
    if (!u?.id) return { ok: false, reason: `no Slack user for ${what}` };
    if (u.deleted) return { ok: false, reason: `the Slack user for ${what} is deactivated` };
    if (u.is_bot) return { ok: false, reason: `the Slack user for ${what} is a bot` };
    emails.set(u.id, { until: now() + ttl, email: u.profile?.email });
    return { ok: true, user: { id: u.id, email: u.profile?.email, name: u.name } };
  };

  const lookupByEmail = async (email: string): Promise<Lookup> => {
    try {
      const r = await opts.client.users.lookupByEmail({ email });
      return usable(r.user, email);
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'users_not_found') return { ok: false, reason: `no Slack user has the email ${email}` };
      throw err;
    }
  };
  // By email too, and while in flight: one engineer reaches us as several principals (an IAM user and
  // Identity Center sessions, in several accounts), often in the same burst; Slack is asked once.
  const byEmailCache = new Map<string, { until: number; lookup: Promise<Lookup> }>();
  const byEmail = (email: string): Promise<Lookup> => {
    const key = email.toLowerCase();
    const hit = byEmailCache.get(key);
    if (hit && hit.until > now()) return hit.lookup;
    const lookup = lookupByEmail(email);
    const entry = { until: now() + ttl, lookup };
    byEmailCache.set(key, entry);
    if (byEmailCache.size > 10_000) byEmailCache.delete(byEmailCache.keys().next().value as string);
    lookup.then(
      (l) => {
        if (!l.ok) entry.until = now() + ttl / 10;
      },
      () => {
        // The directory could not answer: not remembered, the next call asks again.
        if (byEmailCache.get(key) === entry) byEmailCache.delete(key);
      },
    );
    return lookup;
  };

  const byId = async (id: string): Promise<Lookup> => {
    try {
      const r = await opts.client.users.info({ user: id });
      return usable(r.user, id);
    } catch (err) {
      const code = (err as { data?: { error?: string } }).data?.error;
      if (code === 'user_not_found') {
        // Only the identity map names users by id: an entry pointing at nobody is a configuration error.
        opts.logger.warn(
          `slack directory: users.info says user_not_found for ${id} (check SECBOT_IDENTITY_MAP, or the user was removed); calls for this user escalate`,
        );
        return { ok: false, reason: `Slack user ${id} does not exist` };
      }
      throw err;
    }
  };

  async function lookup(p: Principal): Promise<EngineerResolution> {
    const found = (l: Lookup, via: Engineer['via']): EngineerResolution =>
      l.ok ? { ok: true, engineer: { key: l.user.id, slackUserId: l.user.id, email: l.user.email, via } } : l;
    const mapped = opts.identityMap?.lookup(p);
    if (mapped)
      return found(
        'slackUserId' in mapped ? await byId(mapped.slackUserId) : await byEmail(mapped.email),
        'map',
      );
    if (p.email) {
      const r = await byEmail(p.email);
      if (r.ok || !opts.emailDomain) return found(r, 'email');
    }
    if (opts.emailDomain && p.type === 'IAMUser' && p.name && /^[A-Za-z0-9._+-]+$/.test(p.name)) {
      return found(await byEmail(`${p.name.toLowerCase()}@${opts.emailDomain}`), 'domain');
    }
    return {
      ok: false,
      reason: `no Slack user for ${p.arn ?? p.name} (no identity map entry, no email on the principal${opts.emailDomain ? ', no user at the email domain' : ''})`,
    };
  }

  return {
    async resolve(p) {
      const key = p.key;
      const hit = cache.get(key);
      if (hit && hit.until > now()) return hit.value;
      let value: EngineerResolution;
      try {
        value = await lookup(p);
      } catch (err) {
        // The directory could not answer: nobody can be asked, so the call escalates (not cached).
        opts.logger.warn(
          { err },
          `slack directory: lookup for ${p.arn ?? p.name} failed; the call escalates`,
        );
        return { ok: false, reason: `Slack directory unavailable: ${(err as Error).message}` };
      }
      if (!value.ok) {
        // Remembered for a tenth of the TTL, so this is logged about once a minute per principal at most.
        opts.logger.warn(`slack directory: ${value.reason}; the call escalates as unattributed`);
      }
      cache.set(key, { value, until: now() + (value.ok ? ttl : ttl / 10) });
      if (cache.size > 10_000) cache.delete(cache.keys().next().value as string);
      return value;
    },
    async emailOf(slackUserId) {
      const hit = emails.get(slackUserId);
      if (hit && hit.until > now()) return hit.email;
      const r = await byId(slackUserId);
      return r.ok ? r.user.email : undefined;
    },
  };
}
