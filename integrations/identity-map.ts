/**
 * The identity map file (`SECBOT_IDENTITY_MAP`): AWS principals → Slack users, for people whose AWS
 * identity carries no usable email. YAML or JSON, a list of entries checked in order:
 *
 * ```yaml
 * - principal: "arn:aws:iam::*:user/alice"     # an ARN glob (matched against the ARN and the issuing role's ARN)
 *   slack: U0123ABCD                            # a Slack user ID…
 * - principal: bob                              # …or a plain IAM user name / session name
 *   slack: bob.smith@example.com                # …or an email, looked up with users.lookupByEmail
 * ```
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import type { Principal } from '../cloudtrail/principal-types.js';
import { ConfigError } from '../lib/errors.js';
import { globToRegExp } from '../lib/glob.js';

const entrySchema = z.object({
  principal: z.string().min(1, 'principal must be an ARN glob or an IAM user name'),
  slack: z
    .string()
    .regex(
      /^(U[A-Z0-9]+|W[A-Z0-9]+|[^@\s]+@[^@\s]+\.[^@\s]+)$/,
      'slack must be a Slack user ID (U…) or an email address',
    ),
});
const fileSchema = z.array(entrySchema);

export type IdentityTarget = { slackUserId: string } | { email: string };

export interface IdentityMap {
  /** The Slack target for a principal, or undefined when no entry matches. */
  lookup(principal: Principal): IdentityTarget | undefined;
  readonly size: number;
}

export function parseIdentityMap(text: string, file = 'identity map'): IdentityMap {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigError(
      `SECBOT_IDENTITY_MAP: ${file}:${e?.linePos?.[0]?.line ?? '?'}: ${e?.message}`,
      'SECBOT_IDENTITY_MAP',
    );
  }
  const parsed = fileSchema.safeParse(doc.toJS({ maxAliasCount: 50 }) ?? []);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `SECBOT_IDENTITY_MAP: ${file}: entry ${String(issue?.path[0] ?? '?')}: ${issue?.message}`,
      'SECBOT_IDENTITY_MAP',
    );
  }
  const entries = parsed.data.map((e) => ({
    isArn: e.principal.startsWith('arn:'),
    re: globToRegExp(e.principal, true),
    target: /^[UW][A-Z0-9]+$/.test(e.slack) ? { slackUserId: e.slack } : { email: e.slack.toLowerCase() },
  }));
  return {
    size: entries.length,
    lookup(p) {
      const names = [p.name, p.sessionName, p.arn?.split('/').pop()].filter((n): n is string => !!n);
      for (const e of entries) {
        const hit = e.isArn
          ? (p.arn !== undefined && e.re.test(p.arn)) || (p.issuerArn !== undefined && e.re.test(p.issuerArn))
          : names.some((n) => e.re.test(n));
        if (hit) return e.target;
      }
      return undefined;
    },
  };
}

export async function loadIdentityMap(file: string): Promise<IdentityMap> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `SECBOT_IDENTITY_MAP: cannot read ${file}: ${(err as Error).message}`,
      'SECBOT_IDENTITY_MAP',
    );
  }
  return parseIdentityMap(text, file);
}
