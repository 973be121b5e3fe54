/**
 * manifest.yml against the code: the bot scopes are exactly those the Web API methods called anywhere
 * in the product code need (none missing, none extra), and the manifest declares what the listeners use.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** Not product code: tests, benchmarks, dependencies, build output, local data. */
const SKIP = new Set(['node_modules', 'dist', 'test', 'bench', '.git', '.secbot', 'terraform', 'docs']);

/**
 * Bot scopes each Web API method needs (https://api.slack.com/methods, "Required scopes"). Where Slack
 * accepts any of several scopes, the one secbot's use needs is listed (conversations.open and
 * conversations.history act on the DM with an engineer → im:write, im:history).
 * A method missing here fails the test: look it up and add it.
 */
const METHOD_SCOPES: Record<string, readonly string[]> = {
  'auth.test': [],
  'apps.connections.open': [], // app-level token (connections:write), not a bot scope
  'bots.info': ['users:read'],
  'chat.delete': ['chat:write'],
  'chat.getPermalink': [],
  'chat.postEphemeral': ['chat:write'],
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'conversations.history': ['im:history'], // secbot reads its own DM with the engineer
  'conversations.info': ['channels:read'],
  'conversations.open': ['im:write'],
  'team.info': ['team:read'],
  'usergroups.list': ['usergroups:read'],
  'usergroups.users.list': ['usergroups:read'],
  'users.info': ['users:read'],
  'users.list': ['users:read'],
  'users.lookupByEmail': ['users:read.email'],
  'users.profile.get': ['users:read'],
  'views.open': [],
  'views.publish': [],
  'views.update': [],
};
/** Scopes that come with a manifest feature rather than a method. */
const FEATURE_SCOPES = { slashCommands: ['commands'] } as const;
/** Scopes an event subscription needs (app_home_opened needs none). */
const EVENT_SCOPES: Record<string, readonly string[]> = { app_home_opened: [] };

function productFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (e.name.startsWith('.') || SKIP.has(e.name)) return [];
    const path = join(dir, e.name);
    if (e.isDirectory()) return productFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `client.chat.postMessage(`, `client?.usergroups.users.list(`, `.apiCall('views.publish'`. */
const CLIENT_CALL = /\bclient\??\s*\.\s*((?:[a-z][A-Za-z]*\s*\.\s*)+[a-zA-Z]+)\s*\(/g;
const API_CALL = /\.apiCall\(\s*['"`]([a-z][A-Za-z]*(?:\.[a-zA-Z]+)+)['"`]/g;

function methodsCalled(): Map<string, string[]> {
  const where = new Map<string, string[]>();
  for (const file of productFiles()) {
    const src = readFileSync(file, 'utf8');
    for (const re of [CLIENT_CALL, API_CALL]) {
      for (const m of src.matchAll(re)) {
        const method = (m[1] ?? '').replace(/\s+/g, '');
        // `client.send(new XCommand…)` is the AWS SDK; it has no dot and does not match.
        where.set(method, [...(where.get(method) ?? []), relative(ROOT, file)]);
      }
    }
  }
  return where;
}

interface Manifest {
  display_information?: { name?: string; description?: string };
  features?: {
    app_home?: { home_tab_enabled?: boolean; messages_tab_enabled?: boolean };
    bot_user?: { display_name?: string };
    slash_commands?: {
      command: string;
      usage_hint?: string;
      description?: string;
      should_escape?: boolean;
    }[];
  };
  oauth_config?: { scopes?: { bot?: string[] } };
  settings?: {
    event_subscriptions?: { bot_events?: string[] };
    interactivity?: { is_enabled?: boolean };
    socket_mode_enabled?: boolean;
  };
}

const manifest = parse(readFileSync(join(ROOT, 'manifest.yml'), 'utf8')) as Manifest;

describe('manifest.yml', () => {
  const called = methodsCalled();

  it('the scan finds the Web API methods secbot is known to call', () => {
    for (const m of [
      'chat.postMessage',
      'chat.update',
      'conversations.open',
      'usergroups.users.list',
      'views.publish',
    ])
      assert.ok(called.has(m), `${m} was not found: the scan is broken`);
  });

  it('every Web API method called in the code has a known scope', () => {
    const unknown = [...called.keys()].filter((m) => !(m in METHOD_SCOPES));
    assert.deepEqual(
      unknown.map((m) => `${m} (${called.get(m)?.join(', ')})`),
      [],
      'add these methods and their scopes to METHOD_SCOPES',
    );
  });

  it('the bot scopes are exactly the ones the code needs: none missing, none extra', () => {
    const needed = new Set<string>();
    for (const m of called.keys()) for (const s of METHOD_SCOPES[m] ?? []) needed.add(s);
    if ((manifest.features?.slash_commands ?? []).length > 0)
      for (const s of FEATURE_SCOPES.slashCommands) needed.add(s);
    for (const e of manifest.settings?.event_subscriptions?.bot_events ?? [])
      for (const s of EVENT_SCOPES[e] ?? []) needed.add(s);
    // users:read.email only works alongside users:read (Slack refuses the one without the other).
    if (needed.has('users:read.email')) needed.add('users:read');
    const declared = [...(manifest.oauth_config?.scopes?.bot ?? [])].sort();
    assert.deepEqual(declared, [...needed].sort());
  });

  it('subscribes to exactly the events the listeners handle, each with a known scope', () => {
    const registered = new Set<string>();
    for (const file of productFiles(join(ROOT, 'listeners'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(/app\.event\(\s*['"]([a-z_]+)['"]/g))
        registered.add(m[1] ?? '');
    }
    const subscribed = manifest.settings?.event_subscriptions?.bot_events ?? [];
    assert.deepEqual([...subscribed].sort(), [...registered].sort());
    for (const e of subscribed) assert.ok(e in EVENT_SCOPES, `${e}: add its scopes to EVENT_SCOPES`);
  });

  it('declares /secbot with a usage hint, escaping on, and nothing the code does not handle', () => {
    const commands = manifest.features?.slash_commands ?? [];
    assert.deepEqual(
      commands.map((c) => c.command),
      ['/secbot'],
    );
    const secbot = commands[0];
    assert.match(secbot?.usage_hint ?? '', /status/);
    assert.match(secbot?.usage_hint ?? '', /silence <selector> <duration> <reason>/);
    assert.ok(secbot?.description);
    assert.equal(secbot?.should_escape, true, 'mentions must arrive as <@U…> ids for user: selectors');
    const src = readFileSync(join(ROOT, 'listeners/commands/index.ts'), 'utf8');
    assert.match(src, /app\.command\('\/secbot'/);
  });

  it('has display information, a bot user, the Home tab, interactivity and Socket Mode', () => {
    assert.equal(manifest.display_information?.name, 'secbot');
    assert.ok(manifest.display_information?.description);
    assert.ok(manifest.features?.bot_user?.display_name);
    assert.equal(manifest.features?.app_home?.home_tab_enabled, true);
    assert.equal(manifest.features?.app_home?.messages_tab_enabled, true, 'the questions are DMs');
    assert.equal(manifest.settings?.interactivity?.is_enabled, true);
    assert.equal(manifest.settings?.socket_mode_enabled, true);
  });
});
