/** IAM/resource policy documents as CloudTrail carries them (a JSON string, sometimes URL-encoded), read safely. */

export interface PolicyStatement {
  effect: 'Allow' | 'Deny';
  actions: string[];
  notActions: string[];
  resources: string[];
  principals: string[];
}

function asList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

function principalsOf(p: unknown): string[] {
  if (p === '*') return ['*'];
  if (p && typeof p === 'object' && !Array.isArray(p)) {
    return Object.values(p as Record<string, unknown>).flatMap(asList);
  }
  return asList(p);
}

/** Parse a policy document (object, JSON string or URL-encoded JSON string). Undefined when it is none. */
export function parsePolicyDocument(doc: unknown): PolicyStatement[] | undefined {
  let value = doc;
  if (typeof value === 'string') {
    let text = value.trim();
    if (text.startsWith('%7B') || text.startsWith('%7b')) {
      try {
        text = decodeURIComponent(text);
      } catch {
        return undefined;
      }
    }
    if (text.length > 256 * 1024) return undefined;
    try {
      value = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const raw = (value as Record<string, unknown>).Statement;
  const statements = Array.isArray(raw) ? raw : raw && typeof raw === 'object' ? [raw] : [];
  return statements
    .filter((s): s is Record<string, unknown> => !!s && typeof s === 'object' && !Array.isArray(s))
    .map((s) => ({
      effect: s.Effect === 'Deny' ? 'Deny' : 'Allow',
      actions: asList(s.Action),
      notActions: asList(s.NotAction),
      resources: [...asList(s.Resource), ...asList(s.NotResource).map((r) => `not ${r}`)],
      principals: principalsOf(s.Principal),
    }));
}

/**
 * What a policy document allows, in words: "iam:* on *", "s3:GetObject, s3:PutObject on arn:aws:s3:::b/*".
 * NotAction statements read "everything except …".
 *
 * @example summarizeGrants('{"Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}') // "iam:* on *"
 */
export function summarizeGrants(doc: unknown, maxLength = 200): string | undefined {
  const statements = parsePolicyDocument(doc);
  if (!statements) return undefined;
  const parts = statements
    .filter((s) => s.effect === 'Allow')
    .map((s) => {
      const what =
        s.actions.length > 0
          ? s.actions.join(', ')
          : `everything except ${s.notActions.join(', ') || 'nothing'}`;
      const on = s.resources.length > 0 ? s.resources.join(', ') : '*';
      const who = s.principals.length > 0 ? ` to ${s.principals.join(', ')}` : '';
      return `${what} on ${on}${who}`;
    });
  if (parts.length === 0) return 'nothing (deny only)';
  const text = parts.join('; ');
  return text.length > maxLength ? `${text.slice(0, maxLength - 1)}…` : text;
}
