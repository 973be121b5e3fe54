/**
 * Benchmark inputs: CloudTrail records generated from the real records of ../shared/corpus (or the
 * bundled samples where ../shared is absent) with a seeded PRNG, so every run sees the same stream.
 * Each generated record is a copy of a corpus record with a fresh eventID, a recent eventTime and,
 * for human principals, one of 50 engineers (IAM user or Identity Center session).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeValue } from '../cloudtrail/decode.js';
import type { CloudTrailRecord } from '../cloudtrail/record.js';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CORPUS_DIR = fileURLToPath(new URL('../../shared/corpus/', import.meta.url));
const SAMPLES = fileURLToPath(new URL('../samples/seed.jsonl', import.meta.url));

export const DEFAULT_SEED = 20_240_607;
export const EMAIL_DOMAIN = 'example.com';

/** sfc32: small, fast, good enough for benchmark inputs; `rand()` is uniform in [0, 1). */
export function prng(seed: number): () => number {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4_294_967_296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

export const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;

/** A version-4 UUID drawn from the PRNG. */
export function uuid(rand: () => number): string {
  const word = () =>
    Math.floor(rand() * 4_294_967_296)
      .toString(16)
      .padStart(8, '0');
  const a = word();
  const b = word();
  const c = word();
  const d = word();
  const variant = '89ab'[Math.floor(rand() * 4)];
  return `${a}-${b.slice(0, 4)}-4${b.slice(5)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

const FIRST_NAMES = [
  'alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy',
  'mallory', 'niaj', 'olivia', 'peggy', 'rupert', 'sybil', 'trent', 'ursula', 'victor', 'wendy',
  'xavier', 'yvonne', 'zara', 'amir', 'bea', 'chen', 'dara', 'emeka', 'fatima', 'gita',
  'hana', 'ines', 'jonas', 'kofi', 'lena', 'mateo', 'noor', 'oskar', 'priya', 'quinn',
  'rosa', 'sami', 'tariq', 'uma', 'vera', 'wei', 'ximena', 'yusuf', 'zoe', 'arjun',
]; // biome-ignore format: a table

/** The 50 engineers every generated human call belongs to. */
export const ENGINEERS: readonly string[] = FIRST_NAMES;
export const engineerEmail = (name: string) => `${name}@${EMAIL_DOMAIN}`;

export interface Corpus {
  records: CloudTrailRecord[];
  source: string;
}

/** A corpus record ready to copy: its JSON text and whether its caller may become an engineer. */
export interface Template {
  json: string;
  human: 'iam' | 'role' | undefined;
}

const templates = new WeakMap<Corpus, Template[]>();

export function templatesOf(corpus: Corpus): Template[] {
  let ts = templates.get(corpus);
  if (!ts) {
    ts = corpus.records.map((r) => {
      const ui = r.userIdentity as Record<string, unknown>;
      const text = JSON.stringify(ui);
      const serviceLinked = text.includes('AWSServiceRoleFor') || text.includes('aws-service-role');
      const human =
        ui.type === 'IAMUser' ? 'iam' : ui.type === 'AssumedRole' && !serviceLinked ? 'role' : undefined;
      return { json: JSON.stringify(r), human };
    });
    templates.set(corpus, ts);
  }
  return ts;
}

/** The corpus records that decode as CloudTrail records (as JSON text, so each use gets a fresh copy). */
export function loadCorpus(dir = CORPUS_DIR): Corpus {
  const files = corpusFiles(dir);
  const useCorpus = files.every((f) => existsSync(f));
  const records: CloudTrailRecord[] = [];
  const take = (value: unknown) => {
    const r = decodeValue(value);
    if (r.ok) records.push(...r.records);
  };
  if (useCorpus) {
    for (const f of files) {
      for (const line of readFileSync(f, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        take((JSON.parse(line) as { event?: unknown }).event);
      }
    }
    return { records, source: CORPUS_SOURCE };
  }
  for (const line of readFileSync(SAMPLES, 'utf8').split('\n')) {
    if (line.trim() !== '') take(JSON.parse(line));
  }
  return { records, source: SAMPLES_SOURCE };
}

const corpusFiles = (dir: string) => ['public.jsonl', 'background.jsonl'].map((f) => `${dir}${f}`);
const CORPUS_SOURCE = '../shared/corpus (public.jsonl + background.jsonl)';
const SAMPLES_SOURCE = 'samples/seed.jsonl (../shared/corpus is absent)';

/** Where loadCorpus takes its records from, without reading them. */
export function corpusSource(dir = CORPUS_DIR): string {
  return corpusFiles(dir).every((f) => existsSync(f)) ? CORPUS_SOURCE : SAMPLES_SOURCE;
}

const ACCOUNTS = ['111122223333', '210987654321', '123456789012', '444455556666', '777788889999'];
const PERMISSION_SETS = ['AdministratorAccess', 'PowerUser', 'Developer'];

function iamUserIdentity(name: string, account: string) {
  const id = name.toUpperCase().padEnd(16, 'X').slice(0, 16);
  return {
    type: 'IAMUser',
    principalId: `AIDA${id}`,
    arn: `arn:aws:iam::${account}:user/${name}`,
    accountId: account,
    accessKeyId: `AKIA${id}`,
    userName: name,
  };
}

function ssoIdentity(name: string, account: string, permissionSet: string, created: string) {
  const role = `AWSReservedSSO_${permissionSet}_0123456789abcdef`;
  const email = engineerEmail(name);
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLESSO00001:${email}`,
    arn: `arn:aws:sts::${account}:assumed-role/${role}/${email}`,
    accountId: account,
    accessKeyId: 'ASIAEXAMPLESSO00001',
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        principalId: 'AROAEXAMPLESSO00001',
        arn: `arn:aws:iam::${account}:role/aws-reserved/sso.amazonaws.com/${role}`,
        accountId: account,
        userName: role,
      },
      attributes: { mfaAuthenticated: 'true', creationDate: created },
    },
  };
}

/**
 * A copy of `template` with a fresh eventID, eventTime `anchorMs - ageMs` and, when the caller is an
 * IAM user or an assumed role (not a service-linked one), the engineer `engineer` instead.
 */
export function vary(
  template: Template,
  rand: () => number,
  opts: { timeMs: number; engineer: string },
): CloudTrailRecord {
  const r = JSON.parse(template.json) as CloudTrailRecord;
  r.eventID = uuid(rand);
  r.eventTime = new Date(opts.timeMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const ui = r.userIdentity as Record<string, unknown>;
  const account =
    typeof ui.accountId === 'string' && /^\d{12}$/.test(ui.accountId) ? ui.accountId : pick(rand, ACCOUNTS);
  if (template.human === 'iam') {
    r.userIdentity = iamUserIdentity(opts.engineer, account);
  } else if (template.human === 'role') {
    const created = new Date(opts.timeMs - 3_600_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    r.userIdentity = ssoIdentity(opts.engineer, account, pick(rand, PERMISSION_SETS), created);
  }
  if (typeof r.recipientAccountId === 'string') r.recipientAccountId = account;
  if (typeof r.requestID === 'string') r.requestID = uuid(rand);
  return r;
}

/**
 * `n` records drawn uniformly from the corpus, times spread over the `spreadMs` before `anchorMs`.
 * Deterministic for a given seed and anchor.
 */
export function generateRecords(
  corpus: Corpus,
  n: number,
  opts: { seed?: number; anchorMs: number; spreadMs?: number },
): CloudTrailRecord[] {
  const rand = prng(opts.seed ?? DEFAULT_SEED);
  const spread = opts.spreadMs ?? 30 * 60_000;
  const ts = templatesOf(corpus);
  const out: CloudTrailRecord[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const t = pick(rand, ts);
    out[i] = vary(t, rand, {
      timeMs: opts.anchorMs - Math.floor(rand() * spread),
      engineer: pick(rand, ENGINEERS),
    });
  }
  return out;
}

/** Like generateRecords, as JSON lines (what arrives on a queue or in a file). */
export function generateLines(
  corpus: Corpus,
  n: number,
  opts: { seed?: number; anchorMs: number; spreadMs?: number },
): string[] {
  return generateRecords(corpus, n, opts).map((r) => JSON.stringify(r));
}
