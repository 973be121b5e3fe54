/** Where a running embedded secbot says its local servers are, so `secbot enqueue` can find them. */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface EmbeddedEndpoints {
  pid: number;
  sqsEndpoint: string;
  queueUrl: string;
  deadLetterUrl: string;
  dynamoEndpoint?: string;
}

const FILE = 'embedded.json';

export async function writeEmbeddedEndpoints(dataDir: string, e: EmbeddedEndpoints): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await writeFile(join(dataDir, FILE), `${JSON.stringify(e, null, 2)}\n`);
}

export async function clearEmbeddedEndpoints(dataDir: string): Promise<void> {
  await rm(join(dataDir, FILE), { force: true });
}

/** The endpoints of a running embedded secbot, or undefined (no file, or its process is gone). */
export async function readEmbeddedEndpoints(dataDir: string): Promise<EmbeddedEndpoints | undefined> {
  let e: EmbeddedEndpoints;
  try {
    e = JSON.parse(await readFile(join(dataDir, FILE), 'utf8')) as EmbeddedEndpoints;
  } catch {
    return undefined;
  }
  try {
    process.kill(e.pid, 0);
  } catch {
    return undefined;
  }
  return e;
}
