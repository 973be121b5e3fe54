/**
 * Stream CloudTrail inputs from files (or stdin) for `secbot triage` and `secbot enqueue`.
 *
 * Each input may be gzip-compressed (recognised by its magic bytes, not its name) and is either
 *  - JSON Lines: one record or envelope per line — decided when the first non-blank line parses as
 *    JSON. Lines are decoded one by one and nothing is accumulated, so memory stays flat; or
 *  - one JSON document spread over many lines (a pretty-printed CloudTrail log file): accumulated up
 *    to a cap and decoded once.
 * Bad content never throws: it becomes an item whose `result` is a failure. A path that cannot be
 * opened throws {@link InputFileError} naming it, before anything is read.
 */
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { SecbotError } from '../lib/errors.js';
import { type DecodeLimits, decodeMessage } from './decode.js';
import type { DecodeResult } from './record.js';

export interface InputItem {
  /** The path as given, or `<stdin>` for `-`. */
  source: string;
  /** 1-based line number (in the decompressed text) where the item starts. */
  line: number;
  result: DecodeResult;
}

export interface ReadOptions {
  /** Stream read for the path `-` (default `process.stdin`). */
  stdin?: NodeJS.ReadableStream;
  /** Cap on a whole (non-JSON-Lines) document, in characters. Default 500 MiB (below V8's string limit). */
  maxDocumentBytes?: number;
}

/** An input path could not be opened (missing, a directory, no permission). */
export class InputFileError extends SecbotError {
  readonly code = 'input_unreadable';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const STDIN_SOURCE = '<stdin>';
const DEFAULT_MAX_DOCUMENT = 500 * 1024 * 1024;
const READ_CHUNK = 1024 * 1024;

/**
 * Per-line limits for files: the line is already in memory, so its size is not refused below the
 * document cap (a one-line `{"Records":[…]}` file is often several MiB); depth keeps its default.
 */
function fileLimits(maxDocument: number): Partial<DecodeLimits> {
  return { maxBytes: maxDocument };
}

/** Every record-bearing item of every input, in order. `'-'` reads stdin. */
export async function* readCloudTrailInputs(paths: string[], opts?: ReadOptions): AsyncGenerator<InputItem> {
  for await (const batch of readCloudTrailBatches(paths, opts)) yield* batch;
}

/**
 * `readCloudTrailInputs` a chunk of input at a time (the items of the lines one read brought, in
 * order): one turn of the event loop per few hundred records rather than per record.
 */
export async function* readCloudTrailBatches(
  paths: string[],
  opts?: ReadOptions,
): AsyncGenerator<InputItem[]> {
  const maxDocument = opts?.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT;
  // Check every path first, so that a typo in the last argument fails before any work is done.
  for (const path of paths) if (path !== '-') await checkReadable(path);
  for (const path of paths) {
    if (path === '-') {
      const stdin = opts?.stdin ?? process.stdin;
      yield* readStream(STDIN_SOURCE, await maybeGunzipStream(stdin), maxDocument);
    } else {
      yield* readStream(path, await openFile(path), maxDocument);
    }
  }
}

async function checkReadable(path: string): Promise<void> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new InputFileError(path, `cannot read input '${path}': ${why}`, { cause: e });
  }
  if (st.isDirectory()) throw new InputFileError(path, `cannot read input '${path}': it is a directory`);
}

/** A file as a stream of bytes, gunzipped when it starts with the gzip magic bytes 1f 8b. */
async function openFile(path: string): Promise<AsyncIterable<Buffer | string>> {
  let magic: Buffer;
  try {
    const fh = await open(path, 'r');
    try {
      magic = Buffer.alloc(2);
      const { bytesRead } = await fh.read(magic, 0, 2, 0);
      magic = magic.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new InputFileError(path, `cannot read input '${path}': ${(e as Error).message}`, { cause: e });
  }
  const raw = createReadStream(path, { highWaterMark: READ_CHUNK });
  if (isGzip(magic)) return gunzip(raw);
  raw.setEncoding('utf8');
  return raw;
}

function isGzip(b: Uint8Array): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function gunzip(source: Readable): Readable {
  const gz = createGunzip({ chunkSize: 256 * 1024 });
  // Forward a read error of the source (rare for files, possible for pipes) to the consumer.
  source.on('error', (e) => gz.destroy(e));
  // And release the source when the consumer stops early (the gunzip stream is destroyed then).
  gz.on('close', () => source.destroy());
  source.pipe(gz);
  return gz;
}

/** Peek at the first bytes of a stream we cannot re-open (stdin) to decide about gzip. */
async function maybeGunzipStream(stream: NodeJS.ReadableStream): Promise<AsyncIterable<Buffer | string>> {
  const readable: Readable =
    stream instanceof Readable
      ? stream
      : new Readable({ objectMode: false }).wrap(stream as NodeJS.ReadableStream);
  const it = readable[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 2) {
    const next = await it.next();
    if (next.done) {
      ended = true;
      break;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    head.push(chunk);
    headLength += chunk.length;
  }
  async function* replay(): AsyncGenerator<Buffer> {
    yield* head;
    if (ended) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield typeof next.value === 'string' ? Buffer.from(next.value, 'utf8') : next.value;
    }
  }
  const first = head.length === 1 ? (head[0] as Buffer) : Buffer.concat(head);
  if (isGzip(first)) return gunzip(Readable.from(replay(), { objectMode: false }));
  return replay();
}

/** Split text into lines and decode them: JSON Lines, or one whole document. */
async function* readStream(
  source: string,
  chunks: AsyncIterable<Buffer | string>,
  maxDocument: number,
): AsyncGenerator<InputItem[]> {
  const limits = fileLimits(maxDocument);
  /** The items of the chunk in hand, handed over together. */
  let batch: InputItem[] = [];
  const decoder = new StringDecoder('utf8');
  /** Undecided until the first non-blank line; then JSON Lines or whole-document. */
  let mode = 'undecided' as 'undecided' | 'lines' | 'document';
  let rest = '';
  let lineNo = 0;
  let docLines: string[] = [];
  let docStart = 0;
  let docSize = 0;
  let docTooLarge = false;
  /** Inside a line that was already reported as too long; its text is dropped up to the next newline. */
  let overlong = false;

  // Handles one complete line; returns an item to yield, if any. Kept inline-friendly and small:
  // in JSON Lines mode the only work per line is the blank check and decodeMessage.
  const take = (line: string): InputItem | undefined => {
    lineNo++;
    if (mode === 'lines') {
      if (isBlank(line)) return undefined;
      return { source, line: lineNo, result: decodeMessage(line, limits) };
    }
    if (mode === 'document') {
      if (docTooLarge) return undefined;
      docSize += line.length + 1;
      if (docSize > maxDocument) {
        docTooLarge = true;
        docLines = [];
        return undefined;
      }
      docLines.push(line);
      return undefined;
    }
    // Undecided: skip leading blank lines; the first real line decides the mode.
    if (lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (isBlank(line)) return undefined;
    if (parsesAsJson(line)) {
      mode = 'lines';
      return { source, line: lineNo, result: decodeMessage(line, limits) };
    }
    mode = 'document';
    docStart = lineNo;
    docSize = line.length + 1;
    docLines.push(line);
    return undefined;
  };

  try {
    for await (const chunk of chunks) {
      const text = typeof chunk === 'string' ? chunk : decoder.write(chunk);
      let start = 0;
      let nl = text.indexOf('\n');
      if (nl === -1) {
        if (overlong) continue;
        rest += text;
        if (rest.length > maxDocument) {
          // One line longer than the cap: report it, then drop its text up to the next newline.
          overlong = true;
          rest = '';
          lineNo++;
          batch.push({ source, line: lineNo, result: tooLarge(`line longer than ${maxDocument} bytes`) });
          yield batch;
          batch = [];
          if (mode !== 'lines') return;
        }
        continue;
      }
      if (overlong) {
        overlong = false;
      } else {
        // The first line of this chunk completes whatever was left over from the previous one.
        const firstItem = take(stripCr(rest + text.slice(0, nl)));
        if (firstItem) batch.push(firstItem);
      }
      rest = '';
      start = nl + 1;
      for (nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
        const item = take(stripCr(text.slice(start, nl)));
        start = nl + 1;
        if (item) batch.push(item);
      }
      rest = text.slice(start);
      if (batch.length > 0) {
        yield batch;
        batch = [];
      }
      if (docTooLarge) break;
    }
  } catch (e) {
    // A read or decompression error (truncated or corrupt gzip, I/O error): report it as this input's
    // last item, after everything that could be read.
    batch.push({
      source,
      line: lineNo + 1,
      result: { ok: false, reason: 'not_json', detail: `cannot read input: ${(e as Error).message}` },
    });
    yield batch;
    return;
  } finally {
    if (chunks instanceof Readable) chunks.destroy();
  }

  const tail = overlong ? '' : rest + decoder.end();
  if (tail.length > 0) {
    const item = take(stripCr(tail));
    if (item) yield [item];
  }
  if (mode !== 'document') return;
  if (docTooLarge) {
    yield [{ source, line: docStart, result: tooLarge(`document larger than ${maxDocument} bytes`) }];
    return;
  }
  yield [...decodeDocument(source, docLines, docStart, limits)];
}

/**
 * Decode an accumulated document. When it is not JSON as a whole but some of its lines are (a JSON
 * Lines file whose first line is damaged), fall back to judging it line by line.
 */
function* decodeDocument(
  source: string,
  lines: string[],
  start: number,
  limits: Partial<DecodeLimits>,
): Generator<InputItem> {
  let whole: DecodeResult;
  try {
    whole = decodeMessage(lines.join('\n'), limits);
  } catch (e) {
    whole = { ok: false, reason: 'too_large', detail: `cannot assemble document: ${(e as Error).message}` };
  }
  if (
    whole.ok ||
    whole.reason !== 'not_json' ||
    !lines.slice(1).some((l) => !isBlank(l) && parsesAsJson(l))
  ) {
    yield { source, line: start, result: whole };
    return;
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (isBlank(line)) continue;
    yield { source, line: start + i, result: decodeMessage(line, limits) };
  }
}

function tooLarge(detail: string): DecodeResult {
  return { ok: false, reason: 'too_large', detail };
}

function stripCr(line: string): string {
  return line.length > 0 && line.charCodeAt(line.length - 1) === 0x0d ? line.slice(0, -1) : line;
}

function isBlank(line: string): boolean {
  if (line.length === 0) return true;
  const c = line.charCodeAt(0);
  if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0b && c !== 0x0c && c !== 0xfeff) return false;
  return line.trim().length === 0;
}

function parsesAsJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
