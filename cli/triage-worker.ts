/**
 * A `secbot triage` worker thread: loads the rules itself, then judges the chunks of JSON Lines the
 * main thread sends (cli/triage-judge.ts) and sends back each chunk's rows and summary counts, and
 * the chunk's buffer for reuse. Started by cli/triage-pool.ts.
 */
import { isMainThread, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import type { LineChunk } from '../cloudtrail/read-files.js';
import { defaultDecideContext, type PolicyConfig } from '../handlers/decide.js';
import { loadRuleDirs } from '../rules/loader.js';
import type { Action } from '../rules/types.js';
import { BufferPool, type Format, Judge, type UnitResult } from './triage-judge.js';

/** What a worker needs to judge as the main thread does. */
export interface WorkerSetup {
  ruleDirs: string[];
  format: Format;
  shown: Action[];
  /** The decision time, in ms since the epoch. */
  now: number;
  policy: PolicyConfig;
}

export interface ChunkMessage {
  seq: number;
  chunk: LineChunk;
  /** Buffers the main thread has done with, for the rows of later chunks. */
  spare: ArrayBuffer[];
}

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; seq: number; result: UnitResult; input: ArrayBuffer }
  | { type: 'failed'; error: string };

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

function serve(port: MessagePort, setup: WorkerSetup): void {
  const send = (m: WorkerMessage, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
  const outBuffers = new BufferPool();
  // Chunks can arrive while the rules load: they wait.
  const waiting: ChunkMessage[] = [];
  let judge: Judge | undefined;
  const work = (m: ChunkMessage) => {
    if (!judge) {
      waiting.push(m);
      return;
    }
    try {
      const result = judge.lines(m.chunk);
      const input = m.chunk.bytes.buffer as ArrayBuffer;
      send({ type: 'done', seq: m.seq, result, input }, [
        result.out.buffer as ArrayBuffer,
        result.principalOrder.buffer as ArrayBuffer,
        input,
      ]);
    } catch (e) {
      send({ type: 'failed', error: errorText(e) });
    }
  };
  port.on('message', (m: ChunkMessage) => {
    for (const b of m.spare) outBuffers.give(b);
    work(m);
  });
  loadRuleDirs(setup.ruleDirs).then(
    (ruleSet) => {
      judge = new Judge({
        ruleSet,
        ctx: defaultDecideContext({ now: new Date(setup.now), policy: setup.policy }),
        format: setup.format,
        shown: new Set(setup.shown),
        outBuffers,
      });
      send({ type: 'ready' });
      for (const m of waiting.splice(0)) work(m);
    },
    (e: unknown) => send({ type: 'failed', error: `cannot load the rules: ${errorText(e)}` }),
  );
}

if (!isMainThread && parentPort) serve(parentPort, (workerData as { setup: WorkerSetup }).setup);
