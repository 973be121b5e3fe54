/**
 * `/secbot` as data: the subcommands (who may run each, usage, examples) and the parser that turns
 * the command text into a typed command. Nothing here talks to Slack; the listener acks and answers.
 */
import { auditEvent } from '../audit/ecs.js';
import type { AuditTrail } from '../audit/trail.js';
import { formatDuration, parseDuration } from '../lib/duration.js';
import type { SilenceSelector, SilenceSelectorKind } from '../store/types.js';

export type SubcommandName =
  | 'help'
  | 'status'
  | 'silence'
  | 'silences'
  | 'unsilence'
  | 'rules'
  | 'promote'
  | 'demote';

export interface SubcommandSpec {
  name: SubcommandName;
  /**
   * Only security staff may run it (the staff middleware refuses everyone else). Required on every
   * entry, and the parser only dispatches to entries, so a new subcommand cannot be left ungated.
   */
  staff: boolean;
  usage: string;
  summary: string;
  examples: readonly string[];
}

/** The longest silence: a silence is a decision with an expiry, not a way to turn a rule off. */
export const MAX_SILENCE_MS = 30 * 86_400_000;
export const MAX_REASON_CHARS = 500;

export const SUBCOMMANDS: Readonly<Record<SubcommandName, SubcommandSpec>> = {
  help: {
    name: 'help',
    staff: false,
    usage: '/secbot help [subcommand]',
    summary: 'these commands, with examples',
    examples: ['/secbot help', '/secbot help silence'],
  },
  status: {
    name: 'status',
    staff: true,
    usage: '/secbot status',
    summary: 'queue, last drain, open verifications and alerts, silences, rules, integrations, mode, version',
    examples: ['/secbot status'],
  },
  silence: {
    name: 'silence',
    staff: true,
    usage: '/secbot silence <selector> <duration> <reason…>',
    summary:
      'lower matching calls to log (still audited, naming the silence) until the silence expires. ' +
      'Selectors: `rule:<id or glob>`, `event:<EventName>`, `principal:<ARN or glob>`, `user:<@user>`, ' +
      '`account:<12-digit id>`. Durations: `30m`, `4h`, `2d` (also `s`), at most 30 days. A reason is required.',
    examples: [
      '/secbot silence rule:iam-create-access-key 4h key rotation for the build users (CHG-1234)',
      '/secbot silence event:CreateUser 30m onboarding batch',
      '/secbot silence principal:arn:aws:sts::*:assumed-role/ci-deploy/* 2d CI migration',
      '/secbot silence user:@alice 4h break-glass drill',
      '/secbot silence account:111122223333 1d sandbox rebuild',
    ],
  },
  silences: {
    name: 'silences',
    staff: true,
    usage: '/secbot silences',
    summary: 'active silences: who set them, why, until when, and how many calls each absorbed',
    examples: ['/secbot silences'],
  },
  unsilence: {
    name: 'unsilence',
    staff: true,
    usage: '/secbot unsilence <silence id>',
    summary: 'end a silence now',
    examples: ['/secbot unsilence s_01JDX3M4K8ZQ7W2R9T5YB6C1DE'],
  },
  rules: {
    name: 'rules',
    staff: true,
    usage: '/secbot rules',
    summary:
      'the rules, staged (shadow) ones first, with their figures over 7 days: matches, the distinct engineers asked (or that a staged rule would have asked), its would-be questions and pages, and for live rules the share of questions confirmed versus escalated',
    examples: ['/secbot rules'],
  },
  promote: {
    name: 'promote',
    staff: true,
    usage: '/secbot promote <rule id>',
    summary:
      'make a staged rule live from the next drain run, without a redeploy (kept in DynamoDB over the rule file; audited)',
    examples: ['/secbot promote iam-create-access-key'],
  },
  demote: {
    name: 'demote',
    staff: true,
    usage: '/secbot demote <rule id>',
    summary:
      'stage a rule again: its matches are decided and counted, nothing is sent for them (kept in DynamoDB; audited)',
    examples: ['/secbot demote iam-create-access-key'],
  },
};

export type SecbotCommand =
  | { kind: 'help'; topic?: SubcommandName }
  | { kind: 'status' }
  | { kind: 'silence'; selector: SilenceSelector; durationMs: number; reason: string }
  | { kind: 'silences' }
  | { kind: 'unsilence'; id: string }
  | { kind: 'rules' }
  | { kind: 'promote' | 'demote'; ruleId: string }
  /** Bad input: answer with the usage of `subcommand` (or the whole help) and change nothing. */
  | { kind: 'invalid'; subcommand?: SubcommandName; problem: string };

const isSubcommand = (s: string): s is SubcommandName => Object.hasOwn(SUBCOMMANDS, s);

/** The first word of the command text, lower-cased (`''` for none). */
export function subcommandOf(text: string): string {
  return (text.trim().split(/\s+/)[0] ?? '').toLowerCase();
}

/**
 * Whether the command text names a staff-only subcommand. Unknown words are not staff-only: they
 * reach no handler, only the help, so anyone may be told what the commands are.
 */
export function requiresStaff(text: string): boolean {
  const sub = subcommandOf(text);
  return isSubcommand(sub) && SUBCOMMANDS[sub].staff;
}

/** Slack's escaping in command text (`&amp;`, `<@U…|name>`, `<!here>`, `<url|label>`) to plain words. */
export function slackTextToPlain(text: string): string {
  return text
    .replace(/<([@#!])([^>|]*)(?:\|([^>]*))?>/g, (_m, sigil: string, id: string, label?: string) => {
      if (sigil === '!') return `@${(label ?? id).replace(/^subteam\^/, '')}`;
      return `${sigil}${label ?? id}`;
    })
    .replace(/<([^>|]+)(?:\|([^>]*))?>/g, (_m, url: string, label?: string) => label ?? url)
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/**
 * User input echoed in a problem message (which is mrkdwn): decoded from Slack's escaping, then made
 * inert — entities for `& < >`, no backticks or line breaks — and cut short, inside a code span.
 */
export function echo(input: string, max = 60): string {
  const plain = slackTextToPlain(input).replace(/[`\r\n]/g, '');
  const cut =
    Array.from(plain).length > max
      ? `${Array.from(plain)
          .slice(0, max - 1)
          .join('')}…`
      : plain;
  return `\`${cut.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')}\``;
}

/**
 * Tokens: runs of non-space characters (a Slack `<…>` mention or link counts as one, spaces and all),
 * with where each starts, so the reason keeps its own spacing.
 */
function tokens(text: string): { value: string; start: number }[] {
  return [...text.matchAll(/(?:<[^<>]*>|[^\s<]|<)+/g)].map((m) => ({ value: m[0], start: m.index ?? 0 }));
}

/** A rule id as rule files write them. */
const RULE_ID = /^[A-Za-z0-9._-]{1,128}$/;

const SELECTOR_KINDS: readonly SilenceSelectorKind[] = ['rule', 'event', 'principal', 'user', 'account'];

/** A glob that, once wildcards and ARN scaffolding are removed, names nothing: it would silence everything. */
function namesNothing(glob: string): boolean {
  const rest = glob
    .toLowerCase()
    .replace(/^arn:(aws|aws-cn|aws-us-gov|\*|\?)*:?/, '')
    .replace(/[*?:/]/g, '');
  return rest === '';
}

/**
 * Parse `kind:value`. Returns the selector or the reason it is refused.
 *
 * @example parseSelector('user:<@U0ALICE|alice>') // { kind: 'user', value: 'U0ALICE' }
 */
export function parseSelector(token: string): SilenceSelector | { problem: string } {
  const colon = token.indexOf(':');
  const kind = (colon > 0 ? token.slice(0, colon) : token).toLowerCase() as SilenceSelectorKind;
  if (colon <= 0 || !SELECTOR_KINDS.includes(kind)) {
    return {
      problem: `${echo(token)} is not a selector: use ${SELECTOR_KINDS.map((k) => `\`${k}:…\``).join(', ')}`,
    };
  }
  const value = token.slice(colon + 1);
  if (!value) return { problem: `\`${kind}:\` needs a value` };
  switch (kind) {
    case 'rule':
      if (!/^[A-Za-z0-9._*?-]{1,128}$/.test(value))
        return { problem: 'a rule selector is a rule id or a glob of rule ids (letters, digits, . _ - * ?)' };
      if (/^[*?]+$/.test(value)) return { problem: '`rule:*` would silence every rule; name the rules' };
      return { kind, value };
    case 'event':
      if (!/^[A-Za-z][A-Za-z0-9]{0,127}$/.test(value))
        return { problem: 'an event selector is one CloudTrail event name, e.g. `event:CreateUser`' };
      return { kind, value };
    case 'principal':
      if (value.length > 2048 || !/^(arn:|\*)/.test(value))
        return {
          problem: 'a principal selector is an ARN or an ARN glob, e.g. `principal:arn:aws:iam::*:user/ci-*`',
        };
      if (namesNothing(value))
        return { problem: `${echo(`principal:${value}`)} would silence every principal; be specific` };
      return { kind, value };
    case 'user': {
      const m = /^(?:<@([UW][A-Z0-9]{1,20})(?:\|[^>]*)?>|@?([UW][A-Z0-9]{1,20}))$/.exec(value);
      const id = m?.[1] ?? m?.[2];
      if (!id) return { problem: 'a user selector is a Slack mention, e.g. `user:@alice`' };
      return { kind, value: id };
    }
    case 'account':
      if (!/^\d{12}$/.test(value))
        return { problem: 'an account selector is a 12-digit AWS account id, e.g. `account:111122223333`' };
      return { kind, value };
  }
}

/**
 * Parse the text of `/secbot …`.
 *
 * @example parseCommand('silence event:CreateUser 30m onboarding') // { kind: 'silence', … }
 */
export function parseCommand(text: string): SecbotCommand {
  const trimmed = text.trim();
  const t = tokens(trimmed);
  const sub = (t[0]?.value ?? '').toLowerCase();
  const extra = (name: SubcommandName, from: number): SecbotCommand | undefined =>
    t.length > from
      ? {
          kind: 'invalid',
          subcommand: name,
          problem: `\`${name}\` takes no ${from > 1 ? 'more ' : ''}arguments`,
        }
      : undefined;

  if (sub === '' || sub === 'help') {
    const topic = (t[1]?.value ?? '').toLowerCase();
    if (!topic) return { kind: 'help' };
    if (isSubcommand(topic)) return { kind: 'help', topic };
    return { kind: 'invalid', problem: `there is no subcommand ${echo(t[1]?.value ?? '', 40)}` };
  }
  if (!isSubcommand(sub)) {
    return { kind: 'invalid', problem: `there is no subcommand ${echo(t[0]?.value ?? '', 40)}` };
  }
  switch (sub) {
    case 'status':
      return extra('status', 1) ?? { kind: 'status' };
    case 'silences':
      return extra('silences', 1) ?? { kind: 'silences' };
    case 'rules':
      return extra('rules', 1) ?? { kind: 'rules' };
    case 'promote':
    case 'demote': {
      const raw = t[1]?.value;
      if (!raw)
        return { kind: 'invalid', subcommand: sub, problem: 'which rule? give its id (see `/secbot rules`)' };
      if (!RULE_ID.test(raw))
        return {
          kind: 'invalid',
          subcommand: sub,
          problem: `${echo(raw)} is not a rule id (letters, digits, \`.\`, \`_\` and \`-\`; see \`/secbot rules\`)`,
        };
      return extra(sub, 2) ?? { kind: sub, ruleId: raw };
    }
    case 'unsilence': {
      const raw = t[1]?.value;
      if (!raw) return { kind: 'invalid', subcommand: 'unsilence', problem: 'which silence? give its id' };
      const m = /^s_([0-9A-Za-z]{26})$/.exec(raw);
      if (!m?.[1])
        return {
          kind: 'invalid',
          subcommand: 'unsilence',
          problem: `${echo(raw)} is not a silence id (they look like \`s_01JDX3…\`; see \`/secbot silences\`)`,
        };
      return extra('unsilence', 2) ?? { kind: 'unsilence', id: `s_${m[1].toUpperCase()}` };
    }
    case 'silence': {
      const [, sel, dur, first] = t;
      if (!sel) return { kind: 'invalid', subcommand: 'silence', problem: 'a selector is required' };
      const selector = parseSelector(sel.value);
      if ('problem' in selector) return { kind: 'invalid', subcommand: 'silence', problem: selector.problem };
      if (!dur) return { kind: 'invalid', subcommand: 'silence', problem: 'a duration is required' };
      const durationMs = parseDuration(dur.value);
      if (durationMs === undefined)
        return {
          kind: 'invalid',
          subcommand: 'silence',
          problem: `${echo(dur.value, 40)} is not a duration: use a number and s, m, h or d (\`30m\`, \`4h\`, \`2d\`)`,
        };
      if (durationMs > MAX_SILENCE_MS)
        return {
          kind: 'invalid',
          subcommand: 'silence',
          problem: `${formatDuration(durationMs)} is too long: a silence lasts at most 30 days`,
        };
      if (!first) return { kind: 'invalid', subcommand: 'silence', problem: 'a reason is required' };
      const reason = slackTextToPlain(trimmed.slice(first.start)).replace(/\s+/g, ' ').trim();
      if (reason.length > MAX_REASON_CHARS)
        return {
          kind: 'invalid',
          subcommand: 'silence',
          problem: `the reason is ${reason.length} characters; keep it under ${MAX_REASON_CHARS}`,
        };
      return { kind: 'silence', selector, durationMs, reason };
    }
    case 'help':
      return { kind: 'help' };
  }
}

/** Bad `/secbot` input changes nothing, but is recorded with who typed it. */
export function auditInvalidCommand(
  audit: AuditTrail,
  input: { actor: string; text: string; problem: string },
): void {
  audit.write(
    auditEvent({
      action: 'command.invalid',
      outcome: 'failure',
      category: ['configuration'],
      message: `${input.actor} ran /secbot with bad input: ${input.problem}`,
      actor: input.actor,
      secbot: { command: `/secbot ${input.text}`.slice(0, 1000) },
    }),
  );
}
