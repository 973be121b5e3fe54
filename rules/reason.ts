/** Renders a rule's `secbot.reason` template against a record: "{eventName} grants {requestParameters.policyDocument|grants}". */
import { valuesAt } from '../lib/path.js';
import { summarizeGrants } from './policy-document.js';

const MAX_VALUE = 120;
const PLACEHOLDER = /\{([A-Za-z0-9_.$@-]+)(?:\|([a-z_]+))?\}/g;

/** Filters a placeholder may name after `|`. */
export const REASON_FILTERS = ['grants', 'count', 'first'] as const;

function show(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s;
}

/**
 * Fill `{path}` placeholders with the record's values (distinct values joined by ", "; "?" when absent).
 * Filters: `grants` summarises a policy document, `count` counts values, `first` keeps the first.
 * The result is plain text: whoever shows it in Slack escapes it.
 *
 * @example renderReason('{eventName} by {userIdentity.userName}', record) // "CreateUser by alice"
 */
export function renderReason(template: string, record: unknown): string {
  return template.replace(PLACEHOLDER, (_m, path: string, filter: string | undefined) => {
    const values = valuesAt(record, path).filter((v) => v !== null && v !== undefined && v !== '');
    if (filter === 'count') return String(values.length);
    if (values.length === 0) return '?';
    if (filter === 'grants') return summarizeGrants(values[0]) ?? show(values[0]);
    if (filter === 'first') return show(values[0]);
    const distinct = [...new Set(values.map(show))];
    return distinct.length > 3
      ? `${distinct.slice(0, 3).join(', ')} and ${distinct.length - 3} more`
      : distinct.join(', ');
  });
}

/** Placeholders of a template whose filter is unknown (for the rule checker). */
export function unknownReasonFilters(template: string): string[] {
  return [...template.matchAll(PLACEHOLDER)]
    .map((m) => m[2])
    .filter((f): f is string => f !== undefined && !(REASON_FILTERS as readonly string[]).includes(f));
}
