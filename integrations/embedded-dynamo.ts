/**
 * The embedded table: dynalite (a DynamoDB-compatible server on LevelDB) on loopback, persisted under
 * `dataDir` or in memory. Used when no DynamoDB endpoint is configured, and by the tests.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SecbotError } from '../lib/errors.js';

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  maxItemSizeKb?: number;
}

// dynalite is CommonJS without type declarations; this is the one shape we rely on.
const dynalite = createRequire(import.meta.url)('dynalite') as (options: DynaliteOptions) => Server;

/** Static dummy credentials: dynalite checks that requests are signed, not by whom. */
export const EMBEDDED_CREDENTIALS = {
  accessKeyId: 'secbot-embedded',
  secretAccessKey: 'secbot-embedded',
} as const;
export const EMBEDDED_REGION = 'us-east-1';

export interface EmbeddedDynamoOptions {
  /** Keep the data under `<dataDir>/dynamodb` (LevelDB); in memory when absent. */
  dataDir?: string;
  /** 0 (default): any free port. */
  port?: number;
  /** Default 127.0.0.1: the embedded table is never exposed beyond loopback by default. */
  host?: string;
}

export interface EmbeddedDynamo {
  endpoint: string;
  port: number;
  /** Everything a DynamoDBClient needs to talk to it. */
  clientConfig: {
    endpoint: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string };
  };
  /** Stop listening and close the database (idempotent). */
  stop(): Promise<void>;
}

/** The embedded table could not start (port taken, data directory in use by another process). */
export class EmbeddedDynamoError extends SecbotError {
  readonly code = 'embedded_dynamo_failed';
}

const OWNER_FILE = 'secbot.pid';

/** LevelDB allows one process per directory; say so plainly instead of failing on the first request. */
function claimDataDir(dir: string): () => void {
  const file = join(dir, OWNER_FILE);
  let holder: number | undefined;
  try {
    holder = Number.parseInt(readFileSync(file, 'utf8'), 10);
  } catch {
    holder = undefined;
  }
  // Our own pid counts too: a second server in this process would fail on LevelDB's lock.
  if (holder && isAlive(holder)) {
    const who = holder === process.pid ? 'this process' : `pid ${holder}`;
    throw new EmbeddedDynamoError(`${dir} is in use by another secbot embedded table (${who})`);
  }
  writeFileSync(file, String(process.pid));
  return () => rmSync(file, { force: true });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Start dynalite on loopback. Tables are ACTIVE at once (no simulated CREATING delay).
 *
 * @example
 * const db = await startEmbeddedDynamo({ dataDir: '.secbot' });
 * const client = new DynamoDBClient(db.clientConfig);
 * await ensureTable(client, 'secbot', { expectTtl: false });
 * // …
 * await db.stop();
 */
export async function startEmbeddedDynamo(options: EmbeddedDynamoOptions = {}): Promise<EmbeddedDynamo> {
  const host = options.host ?? '127.0.0.1';
  let releaseDir: (() => void) | undefined;
  let path: string | undefined;
  if (options.dataDir) {
    path = join(options.dataDir, 'dynamodb');
    mkdirSync(path, { recursive: true });
    releaseDir = claimDataDir(path);
  }
  const server = dynalite({ path, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    releaseDir?.();
    throw new EmbeddedDynamoError(
      `could not listen on ${host}:${options.port ?? 0}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const port = (server.address() as AddressInfo).port;
  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    port,
    clientConfig: { endpoint, region: EMBEDDED_REGION, credentials: { ...EMBEDDED_CREDENTIALS } },
    stop() {
      stopping ??= new Promise<void>((resolve, reject) => {
        // Idle keep-alive sockets close at once; requests in flight get a moment to finish.
        const force = setTimeout(() => server.closeAllConnections(), 2_000);
        force.unref();
        server.close((err) => {
          clearTimeout(force);
          releaseDir?.();
          if (err) reject(err);
          else resolve();
        });
        server.closeIdleConnections();
      });
      return stopping;
    },
  };
}
