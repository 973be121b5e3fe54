/**
 * Reads the Terraform under terraform/ with @cdktf/hcl2json (HashiCorp's HCL parser compiled to wasm),
 * so tests can check the modules against the code without a terraform binary.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const TERRAFORM = join(REPO, 'terraform');

export type Json = Record<string, unknown>;

/** Every *.tf file under `dir`, recursively, relative to the repository, sorted. */
export function tfFiles(dir = TERRAFORM): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() && !e.name.startsWith('.')
        ? walk(join(d, e.name))
        : e.name.endsWith('.tf')
          ? [join(d, e.name)]
          : [],
    );
  return walk(dir)
    .map((f) => relative(REPO, f))
    .sort();
}

/** One file as hcl2json's JSON (blocks become arrays; expressions become "${…}" strings). */
export async function parseTf(file: string): Promise<Json> {
  return (await parse(file, readFileSync(join(REPO, file), 'utf8'))) as Json;
}

export interface TfModule {
  /** The first block `resource "<type>" "<name>"`, or undefined. */
  resource(type: string, name: string): Json | undefined;
  /** The first block `data "<type>" "<name>"`, or undefined. */
  data(type: string, name: string): Json | undefined;
  /** `variable "<name>"`. */
  variable(name: string): Json | undefined;
}

/** Every .tf file of one module folder (not recursive), merged. */
export async function loadModule(dir: string): Promise<TfModule> {
  const files = readdirSync(join(REPO, dir)).filter((f) => f.endsWith('.tf'));
  const parsed = await Promise.all(files.map((f) => parseTf(join(dir, f))));
  const block = (kind: string, type: string, name?: string): Json | undefined => {
    for (const p of parsed) {
      const byType = p[kind] as Record<string, unknown> | undefined;
      const entry = byType?.[type];
      if (name === undefined) {
        if (Array.isArray(entry)) return entry[0] as Json;
        continue;
      }
      const blocks = (entry as Record<string, unknown> | undefined)?.[name];
      if (Array.isArray(blocks)) return blocks[0] as Json;
    }
    return undefined;
  };
  return {
    resource: (type, name) => block('resource', type, name),
    data: (type, name) => block('data', type, name),
    variable: (name) => block('variable', name),
  };
}

/** A nested block's entries (hcl2json gives every block as an array). */
export function blocks(parent: Json | undefined, name: string): Json[] {
  const v = parent?.[name];
  return Array.isArray(v) ? (v as Json[]) : [];
}

/** How hcl2json writes an expression: `ref('var.name')` is the string "${var.name}". */
export const ref = (expression: string): string => `\${${expression}}`;
