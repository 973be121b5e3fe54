/** Tests' DynamoDB: an in-memory dynalite on a free loopback port, the real SDK client, fresh tables. */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type EmbeddedDynamo, startEmbeddedDynamo } from '../../integrations/embedded-dynamo.js';
import { createDynamoStore, type DynamoStoreOptions } from '../../store/dynamo-store.js';
import type { Store } from '../../store/store.js';
import { ensureTable } from '../../store/table.js';

export interface TestDynamo {
  endpoint: string;
  client: DynamoDBClient;
  server: EmbeddedDynamo;
  /** A store over a new, empty table (unique name), so tests never see each other's items. */
  newStore(options?: Omit<DynamoStoreOptions, 'tableName' | 'client'>): Promise<Store>;
  /** A unique table name, not created. */
  tableName(): string;
  stop(): Promise<void>;
}

export async function startTestDynamo(options: { dataDir?: string } = {}): Promise<TestDynamo> {
  const server = await startEmbeddedDynamo({ dataDir: options.dataDir });
  const client = new DynamoDBClient(server.clientConfig);
  const tableName = () => `secbot-test-${randomUUID().slice(0, 8)}`;
  return {
    endpoint: server.endpoint,
    client,
    server,
    tableName,
    async newStore(storeOptions = {}) {
      const name = tableName();
      await ensureTable(client, name, { expectTtl: false });
      return createDynamoStore({ ...storeOptions, tableName: name, client });
    },
    async stop() {
      client.destroy();
      await server.stop();
    },
  };
}
