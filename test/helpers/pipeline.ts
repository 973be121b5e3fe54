/** A drain wired to real local servers (local-aws-sqs, dynalite) with the fixture rules, for pipeline tests. */
import { fileURLToPath } from 'node:url';
import { memoryAuditTrail } from '../../audit/trail.js';
import { DEFAULT_POLICY } from '../../handlers/decide.js';
import { type DrainDeps, type DrainOptions, drainQueue } from '../../handlers/drain.js';
import { principalDirectory } from '../../handlers/engineers.js';
import type { Queue } from '../../integrations/queue.js';
import { silentLogger } from '../../logging/logger.js';
import { loadRuleDirs } from '../../rules/loader.js';
import type { Store } from '../../store/store.js';
import type { TestDynamo } from './dynamo-server.js';
import type { TestQueue, TestSqsServer } from './sqs-server.js';

export const FIXTURE_RULES = fileURLToPath(new URL('../fixtures/rules/', import.meta.url));

export const FAST_DRAIN: DrainOptions = {
  budgetMs: 20_000,
  receivers: 3,
  waitSeconds: 0,
  visibilityTimeoutSeconds: 30,
  leaseMs: 30_000,
};

export interface Pipeline {
  queue: Queue;
  testQueue: TestQueue;
  store: Store;
  audit: ReturnType<typeof memoryAuditTrail>;
  deps(owner?: string, overrides?: Partial<DrainDeps>): DrainDeps;
  drain(
    owner?: string,
    opts?: Partial<DrainOptions>,
    overrides?: Partial<DrainDeps>,
  ): ReturnType<typeof drainQueue>;
}

export async function newPipeline(
  sqs: TestSqsServer,
  dynamo: TestDynamo,
  queueOpts: Parameters<TestSqsServer['createQueue']>[0] = {},
): Promise<Pipeline> {
  const testQueue = await sqs.createQueue({ visibilityTimeoutSeconds: 30, ...queueOpts });
  const store = await dynamo.newStore();
  const ruleSet = await loadRuleDirs([FIXTURE_RULES]);
  const audit = memoryAuditTrail();
  const deps = (owner = 'drainer-1', overrides: Partial<DrainDeps> = {}): DrainDeps => ({
    queue: testQueue.queue,
    store,
    ruleSet,
    directory: principalDirectory(),
    audit,
    logger: silentLogger(),
    policy: DEFAULT_POLICY,
    verifyTimeoutMs: 15 * 60_000,
    owner,
    ...overrides,
  });
  return {
    queue: testQueue.queue,
    testQueue,
    store,
    audit,
    deps,
    drain: (owner, opts = {}, overrides = {}) =>
      drainQueue(deps(owner, overrides), { ...FAST_DRAIN, ...opts }),
  };
}
