/**
 * Stream CloudTrail inputs from files (or stdin) for `secbot triage` and `secbot enqueue`.
 *
 * Each input may be gzip-compressed (recognised by its magic bytes, not its name) and is either
 *  - JSON Lines: one record or envelope per line — decided when the first non-blank line parses as
 *    JSON. The lines after it are handed over as {@link LineChunk}s, runs of whole lines still in
 *    bytes, for the consumer to decode ({@link decodeLineChunk}) where it likes: `secbot triage`
 *    does it in worker threads too. Nothing is accumulated beyond a chunk, so memory stays flat; or
 *  - one JSON document spread over many lines (a pretty-printed CloudTrail log file): accumulated up
 *    to a cap and decoded once.
 * Bad content never throws: it becomes an item whose `result` is a failure. A path that cannot be
 * opened throws {@link InputFileError} naming it, before anything is read.
 */
import { isAscii } from 'node:buffer';
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
  /**
   * {@link readCloudTrailUnits}: JSON Lines are handed over once at least this many bytes of whole
   * lines have arrived (default 0: whatever whole lines each read brings).
   */
  chunkBytes?: number;
  /** Where {@link readCloudTrailUnits} gets the buffers of its chunks (default: a new one each time). */
  buffers?: ChunkBuffers;
}

/** Buffers for chunks, recycled or not. */
export interface ChunkBuffers {
  /** A Uint8Array over the whole of an ArrayBuffer (nothing else uses) of at least `size` bytes. */
  take(size: number): Uint8Array;
  /** A buffer from `take` the reader no longer needs. */
  give?(buffer: Uint8Array): void;
}

const FRESH_BUFFERS: ChunkBuffers = { take: (size) => Buffer.allocUnsafeSlow(size) };

/**
 * Whole lines of a JSON Lines input, not decoded yet: the lines `firstLine`, `firstLine + 1`, … of
 * `source`, each ending in a newline except, at the end of the input, the last.
 */
export interface LineChunk {
  kind: 'lines';
  source: string;
  firstLine: number;
  /**
   * The bytes, at the start of an ArrayBuffer that holds nothing else (so that it can be transferred
   * to a worker thread, or recycled, with them).
   */
  bytes: Uint8Array;
  /** The size limit of one line, for the decoder. */
  maxBytes: number;
}

/** Items the reader decoded itself: the first line of JSON Lines, documents, failures to read. */
export interface ItemBatch {
  kind: 'items';
  items: InputItem[];
}

/** What {@link readCloudTrailUnits} yields, in input order. */
export type InputUnit = LineChunk | ItemBatch;

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
const READ_CHUNK = 256 * 1024;
const GZIP_READ_CHUNK = 64 * 1024;

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
  for await (const unit of readCloudTrailUnits(paths, opts)) {
    const items = unit.kind === 'items' ? unit.items : decodeLineChunk(unit);
    if (items.length > 0) yield items;
  }
}

/**
 * Every input as {@link InputUnit}s, in order: JSON Lines as undecoded {@link LineChunk}s (of at
 * least `opts.chunkBytes` when the input is that long), everything else as decoded items. Decoding
 * each chunk with {@link decodeLineChunk} gives the items {@link readCloudTrailBatches} gives.
 */
export async function* readCloudTrailUnits(paths: string[], opts?: ReadOptions): AsyncGenerator<InputUnit> {
  const maxDocument = opts?.maxDocumentBytes ?? DEFAULT_MAX_DOCUMENT;
  const chunkBytes = Math.max(0, opts?.chunkBytes ?? 0);
  const buffers = opts?.buffers ?? FRESH_BUFFERS;
  // Check every path first, so that a typo in the last argument fails before any work is done.
  for (const path of paths) if (path !== '-') await checkReadable(path);
  for (const path of paths) {
    if (path === '-') {
      const stdin = opts?.stdin ?? process.stdin;
      yield* readStream(STDIN_SOURCE, await maybeGunzipStream(stdin), maxDocument, chunkBytes, buffers);
    } else {
      yield* readStream(path, await openFile(path), maxDocument, chunkBytes, buffers);
    }
  }
}

/** The items of a chunk's non-blank lines, in order. */
export function decodeLineChunk(chunk: LineChunk): InputItem[] {
  const items: InputItem[] = [];
  const limits = fileLimits(chunk.maxBytes);
  const { source } = chunk;
  forEachLine(chunk, (text, line) => {
    items.push({ source, line, result: decodeMessage(text, limits) });
  });
  return items;
}

/**
 * Calls `fn` with each non-blank line of the chunk (without its line break) and its line number:
 * the lines {@link decodeLineChunk} decodes.
 */
export function forEachLine(chunk: LineChunk, fn: (text: string, line: number) => void): void {
  const { bytes } = chunk;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const encoding = isAscii(b) ? 'latin1' : 'utf8';
  let line = chunk.firstLine;
  // The text a piece at a time, cut after a newline: strings this small are young objects, dead at the
  // next young collection (one string per chunk would be a large object, freed only by a full one).
  for (let at = 0; at < b.length; ) {
    let end = b.length;
    if (end - at > TEXT_PIECE) {
      const nl = b.lastIndexOf(0x0a, at + TEXT_PIECE - 1);
      end = nl >= at ? nl + 1 : b.indexOf(0x0a, at + TEXT_PIECE) + 1 || b.length;
    }
    const text = b.toString(encoding, at, end);
    at = end;
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      const l = stripCr(text.slice(start, nl));
      if (!isBlank(l)) fn(l, line);
      line++;
      start = nl + 1;
    }
    if (start < text.length) {
      const l = stripCr(text.slice(start));
      if (!isBlank(l)) fn(l, line);
    }
  }
}

/** Characters of text decoded at once (see forEachLine). */
const TEXT_PIECE = 32 * 1024;

/**
 * UTF-8 bytes as text. ASCII (CloudTrail's usual) is decoded as Latin-1: the same characters, several
 * times faster.
 */
function chunkText(bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return isAscii(b) ? b.toString('latin1') : b.toString('utf8');
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
  if (!isGzip(magic)) return createReadStream(path, { highWaterMark: READ_CHUNK });
  // Compressed input in small reads: zlib holds a read until it has inflated all of it (some seven
  // times its size), long enough for a 1 MiB read to outlive young collections and pile up, dead,
  // until a full one.
  return gunzip(createReadStream(path, { highWaterMark: GZIP_READ_CHUNK }));
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

/** Read one input: its units, in order, until its end (or a failure to read it). */
async function* readStream(
  source: string,
  chunks: AsyncIterable<Buffer | string>,
  maxDocument: number,
  chunkBytes: number,
  buffers: ChunkBuffers,
): AsyncGenerator<InputUnit> {
  const splitter = new InputSplitter(source, maxDocument, chunkBytes, buffers);
  const out: InputUnit[] = [];
  try {
    for await (const chunk of chunks) {
      splitter.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, out);
      if (out.length > 0) {
        yield* out;
        out.length = 0;
      }
      if (splitter.state !== 'reading') break;
    }
  } catch (e) {
    // A read or decompression error (truncated or corrupt gzip, I/O error): report it as this input's
    // last item, after everything that could be read.
    splitter.fail(e, out);
    yield* out;
    return;
  } finally {
    if (chunks instanceof Readable) chunks.destroy();
  }
  splitter.end(out);
  yield* out;
}

/**
 * Splits one input into units. Bytes are looked at line by line until the first non-blank line
 * decides the mode; JSON Lines then go on as bytes (cut after a newline into {@link LineChunk}s,
 * decoded by the consumer), a document as text (lines accumulated, decoded at the end).
 */
class InputSplitter {
  /** `finishing`: read no more, then call `end`; `done`: read no more, nothing to add. */
  state: 'reading' | 'finishing' | 'done' = 'reading';
  private mode: 'undecided' | 'lines' | 'document' = 'undecided';
  private readonly limits: Partial<DecodeLimits>;
  /** Lines seen so far (the last line number used). */
  private lineNo = 0;
  /** Undecided mode: the bytes of the line being read. */
  private pieces: Buffer[] = [];
  private pending = 0;
  /**
   * JSON Lines: the bytes not handed over yet, copied into `buf` as they come (so that the reads'
   * buffers die young), and how many of them follow the last newline.
   */
  private buf?: Uint8Array;
  private used = 0;
  private partial = 0;
  /** The size of a chunk's buffer: room for a chunk and the read that completes it. */
  private readonly capacity: number;
  /** Inside a line that was already reported as too long; its bytes are dropped up to the next newline. */
  private overlong = false;
  // Document mode.
  private readonly decoder = new StringDecoder('utf8');
  private rest = '';
  private docLines: string[] = [];
  private docStart = 0;
  private docSize = 0;
  private docTooLarge = false;

  constructor(
    private readonly source: string,
    private readonly maxDocument: number,
    private readonly chunkBytes: number,
    private readonly buffers: ChunkBuffers,
  ) {
    this.limits = fileLimits(maxDocument);
    this.capacity = Math.max(64 * 1024, chunkBytes + (chunkBytes >> 1));
  }

  push(chunk: Buffer, out: InputUnit[]): void {
    if (this.mode === 'undecided') this.pushUndecided(chunk, out);
    else if (this.mode === 'lines') this.pushLines(chunk, out);
    else this.pushText(this.decoder.write(chunk), out);
  }

  /** The end of the input: what is left, and the document, if any. */
  end(out: InputUnit[]): void {
    if (this.state === 'done') return;
    this.state = 'done';
    if (this.mode === 'undecided') {
      if (this.pending === 0) return;
      const item = this.takeFirst(stripCr(chunkText(this.takeAll())));
      if (item) out.push(this.items(item));
      // takeFirst has decided the mode (TypeScript still sees it undecided).
      if ((this.mode as InputSplitter['mode']) !== 'document') return;
    } else if (this.mode === 'lines') {
      if (this.used > 0) this.emitLines(this.used, out);
      return;
    } else {
      const tail = this.rest + this.decoder.end();
      this.rest = '';
      if (tail.length > 0) this.takeDocumentLine(stripCr(tail));
    }
    const { source, docStart } = this;
    if (this.docTooLarge) {
      out.push(
        this.items({
          source,
          line: docStart,
          result: tooLarge(`document larger than ${this.maxDocument} bytes`),
        }),
      );
      return;
    }
    out.push(this.items(...decodeDocument(source, this.docLines, docStart, this.limits)));
    this.docLines = [];
  }

  /** Reading failed: the whole lines read so far, then the failure, as the input's last item. */
  fail(e: unknown, out: InputUnit[]): void {
    this.state = 'done';
    if (this.mode === 'lines' && this.used > this.partial) this.emitLines(this.used - this.partial, out);
    out.push(
      this.items({
        source: this.source,
        line: this.lineNo + 1,
        result: { ok: false, reason: 'not_json', detail: `cannot read input: ${(e as Error).message}` },
      }),
    );
  }

  /** The next line is longer than the cap: a failure names it (what is read of it is dropped). */
  private lineTooLong(out: InputUnit[]): void {
    this.lineNo++;
    out.push(
      this.items({
        source: this.source,
        line: this.lineNo,
        result: tooLarge(`line longer than ${this.maxDocument} bytes`),
      }),
    );
  }

  private items(...items: InputItem[]): ItemBatch {
    return { kind: 'items', items };
  }

  /** Before the mode is known: one line at a time, until the first non-blank one. */
  private pushUndecided(chunk: Buffer, out: InputUnit[]): void {
    let from = 0;
    while (this.mode === 'undecided') {
      const nl = chunk.indexOf(0x0a, from);
      if (nl === -1) {
        if (from === chunk.length) return;
        const piece = chunk.subarray(from);
        this.pieces.push(piece);
        this.pending += piece.length;
        if (this.pending > this.maxDocument) {
          // One line longer than the cap before anything else: report it, and read no more.
          this.lineTooLong(out);
          this.state = 'done';
        }
        return;
      }
      const piece = chunk.subarray(from, nl);
      from = nl + 1;
      this.pieces.push(piece);
      this.pending += piece.length;
      const item = this.takeFirst(stripCr(chunkText(this.takeAll())));
      if (item) out.push(this.items(item));
    }
    if (from === chunk.length) return;
    const rest = chunk.subarray(from);
    if (this.mode === 'lines') this.pushLines(rest, out);
    else this.pushText(this.decoder.write(rest), out);
  }

  /** A whole line before the mode is known: skipped when blank, else it decides the mode. */
  private takeFirst(line: string): InputItem | undefined {
    this.lineNo++;
    if (this.lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1);
    if (isBlank(line)) return undefined;
    if (parsesAsJson(line)) {
      this.mode = 'lines';
      return { source: this.source, line: this.lineNo, result: decodeMessage(line, this.limits) };
    }
    this.mode = 'document';
    this.docStart = this.lineNo;
    this.docSize = line.length + 1;
    this.docLines.push(line);
    return undefined;
  }

  /** JSON Lines: bytes kept until a chunk's worth of whole lines has arrived. */
  private pushLines(chunk: Buffer, out: InputUnit[]): void {
    if (this.overlong) {
      const nl = chunk.indexOf(0x0a);
      if (nl === -1) return;
      this.overlong = false;
      chunk = chunk.subarray(nl + 1);
    }
    if (chunk.length === 0) return;
    const last = chunk.lastIndexOf(0x0a);
    if (last === -1 && this.partial + chunk.length > this.maxDocument) {
      // One line longer than the cap: the lines before it, a failure for it, then its bytes are
      // dropped up to the next newline.
      if (this.used > this.partial) this.emitLines(this.used - this.partial, out);
      this.used = 0;
      this.partial = 0;
      this.lineTooLong(out);
      this.overlong = true;
      return;
    }
    this.append(chunk);
    if (last === -1) {
      this.partial += chunk.length;
      return;
    }
    this.partial = chunk.length - last - 1;
    const whole = this.used - this.partial;
    if (whole >= this.chunkBytes) this.emitLines(whole, out);
  }

  private append(chunk: Buffer): void {
    const need = this.used + chunk.length;
    if (this.buf === undefined || this.buf.length < need) {
      const bigger = this.buffers.take(Math.max(need, this.capacity));
      if (this.buf !== undefined) {
        bigger.set(this.buf.subarray(0, this.used));
        this.buffers.give?.(this.buf);
      }
      this.buf = bigger;
    }
    this.buf.set(chunk, this.used);
    this.used = need;
  }

  /** Hand over the first `n` bytes, which end with a line (or the input); the rest moves to a new buffer. */
  private emitLines(n: number, out: InputUnit[]): void {
    const full = this.buf as Uint8Array;
    const rest = this.used - n;
    if (rest > 0) {
      const next = this.buffers.take(Math.max(rest, this.capacity));
      next.set(full.subarray(n, this.used));
      this.buf = next;
    } else {
      this.buf = undefined;
    }
    this.used = rest;
    this.partial = Math.min(this.partial, rest);
    const bytes = full.subarray(0, n);
    out.push({
      kind: 'lines',
      source: this.source,
      firstLine: this.lineNo + 1,
      bytes,
      maxBytes: this.maxDocument,
    });
    this.lineNo += countNewlines(bytes);
    if (bytes[n - 1] !== 0x0a) this.lineNo++;
  }

  /** The undecided mode's pending bytes, in one buffer. */
  private takeAll(): Buffer {
    const bytes =
      this.pieces.length === 1 ? (this.pieces[0] as Buffer) : Buffer.concat(this.pieces, this.pending);
    this.pieces = [];
    this.pending = 0;
    return bytes;
  }

  /** A document: text split into lines and accumulated (up to the cap). */
  private pushText(text: string, out: InputUnit[]): void {
    let nl = text.indexOf('\n');
    if (nl === -1) {
      this.rest += text;
      if (this.rest.length > this.maxDocument) {
        // One line longer than the cap: report it, and read no more.
        this.lineTooLong(out);
        this.state = 'done';
      }
      return;
    }
    // The first line of this text completes whatever was left over from the previous one.
    this.takeDocumentLine(stripCr(this.rest + text.slice(0, nl)));
    let start = nl + 1;
    for (nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      this.takeDocumentLine(stripCr(text.slice(start, nl)));
      start = nl + 1;
    }
    this.rest = text.slice(start);
    if (this.docTooLarge) this.state = 'finishing';
  }

  private takeDocumentLine(line: string): void {
    this.lineNo++;
    if (this.docTooLarge) return;
    this.docSize += line.length + 1;
    if (this.docSize > this.maxDocument) {
      this.docTooLarge = true;
      this.docLines = [];
      return;
    }
    this.docLines.push(line);
  }
}

function countNewlines(bytes: Uint8Array): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
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
