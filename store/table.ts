/** `ensureTable`: create secbot's table when it is missing; where it exists, only check it. */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DescribeTableCommandOutput,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type TableDescription,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import type { Logger } from 'pino';
import { sleep } from './context.js';
import { StoreError, TableSchemaError } from './errors.js';
import { createTableInput, TABLE_SCHEMA } from './schema.js';

export interface EnsureTableResult {
  created: boolean;
  /** `unsupported`: the endpoint has no TTL API (dynalite); expiry is enforced at read time anyway. */
  ttl: 'enabled' | 'disabled' | 'unsupported';
}

export interface EnsureTableOptions {
  logger?: Logger;
  /** How long to wait for the table (and its index) to become ACTIVE. */
  timeoutMs?: number;
  /**
   * Whether a table without TTL deserves a warning (default true). The embedded table (dynalite)
   * reports TTL as disabled and cannot enable it, so it passes false.
   */
  expectTtl?: boolean;
}

const errorName = (err: unknown) => (err instanceof Error ? err.name : '');

/**
 * Make sure `tableName` exists with secbot's schema (`TABLE_SCHEMA`). A missing table is created
 * (on-demand, with gsi1 and TTL on `ttl`) and waited for; an existing one is only described and
 * checked — a mismatch throws `TableSchemaError` naming every problem, and nothing is changed.
 *
 * @example
 * await ensureTable(client, config.tableName, { logger });
 */
export async function ensureTable(
  client: DynamoDBClient,
  tableName: string,
  options: EnsureTableOptions = {},
): Promise<EnsureTableResult> {
  const { logger, timeoutMs = 60_000, expectTtl = true } = options;
  let table = await describe(client, tableName);
  let created = false;
  if (!table) {
    try {
      await client.send(new CreateTableCommand(createTableInput(tableName)));
      created = true;
      logger?.info({ table: tableName }, 'created DynamoDB table');
    } catch (err) {
      // Another replica created it first: fine, wait for it like ours.
      if (errorName(err) !== 'ResourceInUseException') throw new StoreError('ensureTable', err);
    }
    table = await waitActive(client, tableName, timeoutMs);
  } else if (table.TableStatus !== 'ACTIVE') {
    table = await waitActive(client, tableName, timeoutMs);
  }
  const problems = checkSchema(table);
  if (problems.length > 0) throw new TableSchemaError(tableName, problems);
  const ttl = created
    ? await enableTtl(client, tableName, logger)
    : await checkTtl(client, tableName, expectTtl ? logger : undefined);
  return { created, ttl };
}

/** Everything about `table` that differs from `TABLE_SCHEMA` (extra indexes are allowed). */
export function checkSchema(table: TableDescription): string[] {
  const s = TABLE_SCHEMA;
  const problems: string[] = [];
  const types = new Map((table.AttributeDefinitions ?? []).map((a) => [a.AttributeName, a.AttributeType]));
  const keyOf = (schema: TableDescription['KeySchema'], kind: 'HASH' | 'RANGE') =>
    schema?.find((k) => k.KeyType === kind)?.AttributeName;
  const expectKey = (
    where: string,
    schema: TableDescription['KeySchema'],
    kind: 'HASH' | 'RANGE',
    want: { name: string; type: string },
  ) => {
    const got = keyOf(schema, kind);
    const label = kind === 'HASH' ? 'partition key' : 'sort key';
    if (got !== want.name) problems.push(`${where} ${label} is ${got ?? 'missing'}, expected ${want.name}`);
    else if (types.get(got) !== want.type)
      problems.push(`${where} ${label} ${got} has type ${types.get(got)}, expected ${want.type}`);
  };
  expectKey('table', table.KeySchema, 'HASH', s.partitionKey);
  expectKey('table', table.KeySchema, 'RANGE', s.sortKey);
  for (const g of s.globalSecondaryIndexes) {
    const idx = table.GlobalSecondaryIndexes?.find((i) => i.IndexName === g.name);
    if (!idx) {
      problems.push(`global secondary index ${g.name} is missing`);
      continue;
    }
    expectKey(`index ${g.name}`, idx.KeySchema, 'HASH', g.partitionKey);
    expectKey(`index ${g.name}`, idx.KeySchema, 'RANGE', g.sortKey);
    const projection = idx.Projection?.ProjectionType;
    if (projection !== g.projection)
      problems.push(`index ${g.name} projects ${projection}, expected ${g.projection}`);
  }
  return problems;
}

async function describe(client: DynamoDBClient, tableName: string): Promise<TableDescription | undefined> {
  let out: DescribeTableCommandOutput;
  try {
    out = await client.send(new DescribeTableCommand({ TableName: tableName }));
  } catch (err) {
    if (errorName(err) === 'ResourceNotFoundException') return undefined;
    throw new StoreError('ensureTable', err);
  }
  return out.Table;
}

async function waitActive(
  client: DynamoDBClient,
  tableName: string,
  timeoutMs: number,
): Promise<TableDescription> {
  const until = Date.now() + timeoutMs;
  for (let delay = 50; ; delay = Math.min(delay * 2, 2_000)) {
    const t = await describe(client, tableName);
    const indexesActive = (t?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
    if (t && t.TableStatus === 'ACTIVE' && indexesActive) return t;
    if (Date.now() > until) {
      throw new StoreError(
        'ensureTable',
        new Error(`table ${tableName} not ACTIVE after ${timeoutMs} ms (${t?.TableStatus ?? 'missing'})`),
      );
    }
    await sleep(delay);
  }
}

function unsupported(err: unknown): boolean {
  return errorName(err) === 'UnknownOperationException';
}

async function enableTtl(
  client: DynamoDBClient,
  tableName: string,
  logger?: Logger,
): Promise<EnsureTableResult['ttl']> {
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      }),
    );
    return 'enabled';
  } catch (err) {
    if (unsupported(err)) {
      logger?.debug({ table: tableName }, 'endpoint has no TTL support; expired items are ignored on read');
      return 'unsupported';
    }
    throw new StoreError('ensureTable', err);
  }
}

async function checkTtl(
  client: DynamoDBClient,
  tableName: string,
  logger?: Logger,
): Promise<EnsureTableResult['ttl']> {
  let d: { TimeToLiveStatus?: string; AttributeName?: string } | undefined;
  try {
    d = (await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }))).TimeToLiveDescription;
  } catch (err) {
    if (unsupported(err)) return 'unsupported';
    throw new StoreError('ensureTable', err);
  }
  const status = d?.TimeToLiveStatus;
  if ((status === 'ENABLED' || status === 'ENABLING') && d?.AttributeName !== TABLE_SCHEMA.ttlAttribute) {
    throw new TableSchemaError(tableName, [
      `TTL is on attribute ${d?.AttributeName}, expected ${TABLE_SCHEMA.ttlAttribute}`,
    ]);
  }
  if (status === 'ENABLED' || status === 'ENABLING') return 'enabled';
  logger?.warn(
    { table: tableName, ttlAttribute: TABLE_SCHEMA.ttlAttribute },
    'TTL is not enabled on the table: expired items are ignored on read but never deleted',
  );
  return 'disabled';
}
