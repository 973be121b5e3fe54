/** What every part of the DynamoDB store shares: the client, the table, error mapping, paging. */

import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  type KeysAndAttributes,
  QueryCommand,
  type QueryCommandInput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { mapLimit } from '../lib/limit.js';
import { StoreError } from './errors.js';
import { fromItem, type Item, toItem } from './marshal.js';
import type { Transition } from './types.js';

/** How long items outlive their use. */
export interface Retention {
  /** Event claims, from the claim. */
  eventDays: number;
  /** Verifications and alerts, from closing / resolving. */
  closedDays: number;
  /** Silences, from expiry. */
  silenceDays: number;
  /** Day counters, from the day. */
  counterDays: number;
}

export const DEFAULT_RETENTION: Retention = {
  eventDays: 14,
  closedDays: 90,
  silenceDays: 30,
  counterDays: 400,
};

export interface StoreContext {
  client: DynamoDBClient;
  table: string;
  logger?: Logger;
  retention: Retention;
}

/** Returned by `attempt` when a condition expression failed. */
export const CONDITION_FAILED: unique symbol = Symbol('condition failed');
export type ConditionFailed = typeof CONDITION_FAILED;

const DAY_S = 86_400;

/** Epoch seconds `days` after `from`, for the `ttl` attribute. */
export function ttlAfter(from: Date | string, days: number): number {
  const ms = typeof from === 'string' ? Date.parse(from) : from.getTime();
  return Math.floor(ms / 1000) + days * DAY_S;
}

/** True when the item carries a `ttl` that has passed (DynamoDB may not have deleted it yet). */
export function isExpired(raw: Record<string, unknown>, now: Date = new Date()): boolean {
  return typeof raw.ttl === 'number' && raw.ttl > 0 && raw.ttl <= Math.floor(now.getTime() / 1000);
}

export function nowSeconds(now: Date): number {
  return Math.floor(now.getTime() / 1000);
}

function isConditionFailure(err: unknown): boolean {
  return err instanceof Error && err.name === 'ConditionalCheckFailedException';
}

/**
 * Run one DynamoDB call. A failed condition comes back as `CONDITION_FAILED`; anything else (after the
 * SDK's retries, which cover throttling) becomes a `StoreError` naming the operation.
 */
export async function attempt<T>(operation: string, fn: () => Promise<T>): Promise<T | ConditionFailed> {
  try {
    return await fn();
  } catch (err) {
    if (isConditionFailure(err)) return CONDITION_FAILED;
    throw new StoreError(operation, err);
  }
}

/** Like `attempt` for calls without a condition. */
export async function call<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new StoreError(operation, err);
  }
}

/** Strongly consistent GetItem, unmarshalled; expired items read as absent. */
export async function getRaw(
  ctx: StoreContext,
  operation: string,
  key: Record<string, string>,
  now: Date = new Date(),
): Promise<Record<string, unknown> | undefined> {
  const out = await call(operation, () =>
    ctx.client.send(new GetItemCommand({ TableName: ctx.table, Key: toItem(key), ConsistentRead: true })),
  );
  if (!out.Item) return undefined;
  const raw = fromItem(out.Item);
  return isExpired(raw, now) ? undefined : raw;
}

/** Every page of a Query, unmarshalled, up to `limit` items; expired items are left out. */
export async function queryAll(
  ctx: StoreContext,
  operation: string,
  input: Omit<QueryCommandInput, 'TableName' | 'ExclusiveStartKey'>,
  limit = Number.POSITIVE_INFINITY,
  now: Date = new Date(),
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let start: Item | undefined;
  do {
    const page = await call(operation, () =>
      ctx.client.send(
        new QueryCommand({
          ...input,
          TableName: ctx.table,
          ExclusiveStartKey: start,
          ...(Number.isFinite(limit) ? { Limit: Math.min(1000, limit - out.length) } : {}),
        }),
      ),
    );
    for (const item of page.Items ?? []) {
      const raw = fromItem(item);
      if (!isExpired(raw, now)) out.push(raw);
    }
    start = page.LastEvaluatedKey;
  } while (start && out.length < limit);
  return out.slice(0, Number.isFinite(limit) ? limit : undefined);
}

/** Strongly consistent BatchGetItem in chunks of 100, a few in flight, retrying unprocessed keys. */
export async function batchGetRaw(
  ctx: StoreContext,
  operation: string,
  keyList: Record<string, string>[],
  now: Date = new Date(),
  concurrency = 4,
): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const chunks: Record<string, string>[][] = [];
  for (let i = 0; i < keyList.length; i += 100) chunks.push(keyList.slice(i, i + 100));
  await mapLimit(chunks, concurrency, async (chunk) => {
    let request: Record<string, KeysAndAttributes> | undefined = {
      [ctx.table]: { Keys: chunk.map((k) => toItem(k)), ConsistentRead: true },
    };
    for (let round = 0; request && Object.keys(request).length > 0; round++) {
      if (round > 0) await sleep(Math.min(1000, 20 * 2 ** round));
      const req: Record<string, KeysAndAttributes> = request;
      const page = await call(operation, () =>
        ctx.client.send(new BatchGetItemCommand({ RequestItems: req })),
      );
      for (const item of page.Responses?.[ctx.table] ?? []) {
        const raw = fromItem(item);
        if (!isExpired(raw, now)) out.push(raw);
      }
      request = page.UnprocessedKeys;
      if (round > 10 && request && Object.keys(request).length > 0) {
        throw new StoreError(operation, new Error('unprocessed keys after 10 retries'));
      }
    }
  });
  return out;
}

/** Most items one BatchWriteItem takes. */
export const BATCH_WRITE_ITEMS = 25;

/**
 * Unconditional puts in BatchWriteItem requests of 25, a few in flight, retrying unprocessed items with
 * back-off (what DynamoDB hands back when throttled). For items nobody else writes concurrently, or
 * whose every writer writes the same thing: BatchWriteItem takes no conditions.
 */
export async function batchWriteRaw(
  ctx: StoreContext,
  operation: string,
  items: readonly Record<string, unknown>[],
  concurrency = 4,
): Promise<void> {
  const chunks: WriteRequest[][] = [];
  for (let i = 0; i < items.length; i += BATCH_WRITE_ITEMS) {
    chunks.push(
      items.slice(i, i + BATCH_WRITE_ITEMS).map((item) => ({ PutRequest: { Item: toItem(item) } })),
    );
  }
  await mapLimit(chunks, concurrency, async (chunk) => {
    let request: WriteRequest[] = chunk;
    for (let round = 0; request.length > 0; round++) {
      if (round > 0) await sleep(Math.min(1000, 20 * 2 ** round));
      if (round > 10) throw new StoreError(operation, new Error('unprocessed items after 10 retries'));
      const page = await call(operation, () =>
        ctx.client.send(new BatchWriteItemCommand({ RequestItems: { [ctx.table]: request } })),
      );
      request = page.UnprocessedItems?.[ctx.table] ?? [];
    }
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Read helpers for unmarshalled items (the table is ours, but never trust a shape blindly). */
export const read = {
  str(raw: Record<string, unknown>, k: string): string | undefined {
    const v = raw[k];
    return typeof v === 'string' ? v : undefined;
  },
  num(raw: Record<string, unknown>, k: string, dflt = 0): number {
    const v = raw[k];
    return typeof v === 'number' ? v : dflt;
  },
  bool(raw: Record<string, unknown>, k: string): boolean {
    return raw[k] === true;
  },
  strings(raw: Record<string, unknown>, k: string): string[] {
    const v = raw[k];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  },
  list<T>(raw: Record<string, unknown>, k: string): T[] {
    const v = raw[k];
    return Array.isArray(v) ? (v as T[]) : [];
  },
  obj<T>(raw: Record<string, unknown>, k: string): T | undefined {
    const v = raw[k];
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as T) : undefined;
  },
};

/** An item's `history`, without the write tokens kept beside each entry. */
export function historyOf<S extends string>(raw: Record<string, unknown>): Transition<S>[] {
  return read.list<Record<string, unknown>>(raw, 'history').map((h) => ({
    from: h.from as S,
    to: h.to as S,
    at: String(h.at ?? ''),
    by: String(h.by ?? ''),
    reason: String(h.reason ?? ''),
  }));
}

/**
 * The write token of the item's last transition. A conditional update whose response was lost (and
 * whose SDK retry then failed the condition) recognises its own write by this token.
 */
export function lastTransitionToken(raw: Record<string, unknown>): string | undefined {
  const last = read.list<Record<string, unknown>>(raw, 'history').at(-1);
  return typeof last?.tid === 'string' ? last.tid : undefined;
}

/** Date or ISO string → ISO string. */
export function iso(d: Date | string): string {
  return typeof d === 'string' ? new Date(d).toISOString() : d.toISOString();
}
