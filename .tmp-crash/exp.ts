import { createDynamoStore } from '../store/dynamo-store.js';
import { childEnv, killAllChildren, spawnSecbot } from '../test/helpers/child-secbot.js';
import { enqueue, makeWorkload, waitForDecided } from '../test/helpers/invariants.js';
import { startWorld } from '../test/helpers/world.js';

const N = Number(process.argv[2] ?? 5);
const shared = process.argv[3] === 'shared';
const t0 = Date.now();
const sharedWorld = shared ? await startWorld() : undefined;
await Promise.all(Array.from({ length: N }, async (_, i) => {
  const world = sharedWorld ?? await startWorld();
  const queue = await world.sqs.createQueue({ visibilityTimeoutSeconds: 5 });
  const table = world.dynamo.tableName();
  const store = createDynamoStore({ tableName: table, client: world.dynamo.client });
  const w = makeWorkload(world, { prefix: `x${i}`, engineers: 6, calls: 60, alerts: 6 });
  await enqueue(queue, w.bodies);
  const c = spawnSecbot({ name: `c${i}`, duo: world.duo, env: childEnv(world, { queue, table, extra: { SECBOT_VISIBILITY_TIMEOUT: '5s' } }) });
  await c.ready(60000);
  const r = Date.now();
  console.log(i, 'ready', (r - t0) / 1000);
  await waitForDecided(store, [...w.notify.keys(), ...w.alerts], 120_000, () => c.output().slice(-3000));
  console.log(i, 'decided after', (Date.now() - r) / 1000);
}));
await killAllChildren();
process.exit(0);
