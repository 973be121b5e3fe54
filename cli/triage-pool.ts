/**
 * The worker threads of `secbot triage` (cli/triage-worker.ts), seen from the main thread: chunks go
 * to the least busy worker, and each chunk's result comes back as a promise. A worker that fails —
 * an error, an exit, rules it cannot load — fails every chunk still out and every later one.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LineChunk } from '../cloudtrail/read-files.js';
import { SecbotError } from '../lib/errors.js';
import type { BufferPool, UnitResult } from './triage-judge.js';
import type { ChunkMessage, WorkerMessage, WorkerSetup } from './triage-worker.js';

/** A triage worker failed; the run cannot complete. */
export class TriageWorkerError extends SecbotError {
  readonly code = 'triage_worker_failed';
}

interface Slot {
  worker: Worker;
  ready: boolean;
  /** Chunks sent and not answered yet, oldest first. */
  outstanding: { seq: number; resolve: (r: UnitResult) => void; reject: (e: Error) => void }[];
}

/**
 * Under tsx (`node bin/secbot.js`, `npx tsx cli/main.ts`, the tests) the worker is TypeScript, and a
 * worker thread does not inherit the main thread's loader: the worker's first step registers tsx, as
 * bin/secbot.js does. Its CommonJS hook (tsx/cjs/api), not the ESM one bin/secbot.js uses: the ESM
 * hook runs in a loader thread of its own, which in a worker costs some 20 MB more and a slower start,
 * and the worker's modules (no top-level await, no ESM-only package) load the same either way.
 * Dynamic imports only: the code runs as a script or, under --input-type=module, as a module.
 */
const TSX_BOOT = `import('node:worker_threads').then(({ workerData }) =>
  import('node:module').then(({ createRequire }) => {
    const require = createRequire(workerData.entry);
    require(workerData.tsx).register();
    require(workerData.entry);
  }));`;

/**
 * A worker's young generation, where a record's objects live and die: 8 MB judges about as fast as
 * V8's default (48 MB here) in some 25 MB less (measured: no difference above the machine's noise).
 */
const LIMITS = { maxYoungGenerationSizeMb: 8 };

/** The file of tsx's CommonJS API (`import.meta.resolve` gives its ESM file, beside it). */
function tsxCjsApi(): string {
  return fileURLToPath(import.meta.resolve('tsx/cjs/api')).replace(/\.mjs$/, '.cjs');
}

export class TriagePool {
  private readonly slots: Slot[] = [];
  private seq = 0;
  private closing = false;
  /** Set when a worker failed: every chunk out, and every later one, fails with it. */
  failure?: TriageWorkerError;

  /**
   * `buffers.chunks` gets back the chunks' buffers once judged; `buffers.outs` gives the workers
   * buffers for their rows (those of rows already written).
   */
  constructor(
    size: number,
    setup: WorkerSetup,
    private readonly buffers: { chunks: BufferPool; outs: BufferPool },
  ) {
    const here = import.meta.url;
    const typescript = here.endsWith('.ts');
    const entry = new URL(typescript ? './triage-worker.ts' : './triage-worker.js', here);
    for (let i = 0; i < size; i++) {
      const worker = typescript
        ? new Worker(TSX_BOOT, {
            eval: true,
            workerData: { setup, tsx: tsxCjsApi(), entry: fileURLToPath(entry) },
            stdout: true,
            resourceLimits: LIMITS,
          })
        : new Worker(entry, { workerData: { setup }, stdout: true, resourceLimits: LIMITS });
      // Whatever a worker prints must not land among the rows.
      worker.stdout.pipe(process.stderr, { end: false });
      const slot: Slot = { worker, ready: false, outstanding: [] };
      worker.on('message', (m: WorkerMessage) => this.answer(slot, m));
      worker.on('error', (e) => this.fail(e.stack ?? e.message));
      worker.on('exit', (code) => {
        if (!this.closing) this.fail(`exited unexpectedly (code ${code})`);
      });
      this.slots.push(slot);
    }
  }

  /** How many workers have loaded their rules. */
  get ready(): number {
    return this.slots.filter((s) => s.ready).length;
  }

  /**
   * The worker to send the next chunk to: of those ready (or all, with `booting`), the one with the
   * fewest chunks out, when it has fewer than `limit`.
   */
  pick(limit: number, booting = false): Slot | undefined {
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (!s.ready && !booting) continue;
      if (s.outstanding.length >= limit) continue;
      if (!best || s.outstanding.length < best.outstanding.length) best = s;
    }
    return best;
  }

  /** Judge a chunk in `slot`'s worker. The chunk's bytes are transferred: `chunk` is unusable after. */
  judge(slot: Slot, chunk: LineChunk): Promise<UnitResult> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = this.seq++;
    return new Promise<UnitResult>((resolve, reject) => {
      slot.outstanding.push({ seq, resolve, reject });
      const spare = this.buffers.outs.spare(1);
      const message: ChunkMessage = { seq, chunk, spare };
      slot.worker.postMessage(message, [chunk.bytes.buffer as ArrayBuffer, ...spare]);
    });
  }

  private answer(slot: Slot, m: WorkerMessage): void {
    if (m.type === 'ready') {
      slot.ready = true;
    } else if (m.type === 'done') {
      const i = slot.outstanding.findIndex((o) => o.seq === m.seq);
      const [waiting] = slot.outstanding.splice(i, 1);
      this.buffers.chunks.give(m.input);
      waiting?.resolve(m.result);
    } else {
      this.fail(m.error);
    }
  }

  private fail(why: string): void {
    if (this.closing) return;
    this.failure ??= new TriageWorkerError(`a triage worker failed: ${why}`);
    for (const slot of this.slots) for (const o of slot.outstanding.splice(0)) o.reject(this.failure);
  }

  /** Stop every worker. */
  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
