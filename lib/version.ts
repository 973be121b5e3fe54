/** secbot's version, from package.json (found from the source tree and from the build in dist/). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** The `version` of secbot's package.json, or `unknown` when it cannot be read. */
export function secbotVersion(): string {
  if (cached) return cached;
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'secbot' && pkg.version) {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // not there: try the next candidate
    }
  }
  return 'unknown';
}
