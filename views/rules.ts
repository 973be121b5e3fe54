/** `/secbot rules`, `/secbot promote` and `/secbot demote` answers (ephemeral). */
import type { KnownBlock } from '@slack/types';
import type { RuleFigures, RulesReport, StageChange } from '../handlers/rule-stages.js';
import { cloudtrail, inert, md, mention, plain, SLACK_LIMITS, slackDate } from './format.js';
import type { SlackMessage } from './question.js';

/** Characters per section (Slack allows 3000): rows are packed into as few sections as fit. */
const SECTION_CHARS = 2800;
/** Blocks left for rows after the header, the intro and the closing notes. */
const ROW_BLOCKS = SLACK_LIMITS.blocksPerMessage - 6;

const pct = (x: number) => `${Math.round(x * 100)}%`;

function label(f: RuleFigures): string {
  return `*${inert(f.title, 80)}* (${cloudtrail(f.ruleId, 80)})`;
}

function stageWords(f: RuleFigures): string {
  if (f.override)
    return `${f.stage === 'shadow' ? ':ghost: staged' : 'live'} (set by ${mention(f.override.by)} ${slackDate(f.override.at)}; the file says ${f.fileStage})`;
  return f.stage === 'shadow' ? ':ghost: staged (by its file)' : 'live';
}

/** One rule's line: its stage and the figures that matter for it. */
export function ruleRow(f: RuleFigures): string {
  const parts = [`• ${label(f)} · ${f.action} · ${stageWords(f)}`];
  const atLeast = f.engineersCapped ? 'at least ' : '';
  const s = f.staged;
  if (f.stage === 'shadow' || s.matches > 0) {
    parts.push(
      `staged: ${s.matches} match(es)` +
        ` · would have asked ${atLeast}${s.engineers} engineer(s) (${s.wouldNotify} question(s))` +
        ` · would have alerted ${s.wouldAlert} (${s.wouldPage} paged)`,
    );
  }
  const l = f.live;
  if (f.stage === 'live' || l.matches > 0) {
    const share =
      l.confirmedShare === undefined
        ? 'no question closed yet'
        : `${pct(l.confirmedShare)} confirmed, ${pct(1 - l.confirmedShare)} escalated (of ${l.confirmed + l.escalated} closed)`;
    parts.push(
      `live: ${l.matches} match(es) · asked ${atLeast}${l.engineers} engineer(s) (${l.asked} question(s)) · ${share}`,
    );
  }
  return parts.join('\n    ');
}

/**
 * The rules: staged first, then live rules that matched anything in the window; live rules that did
 * not are counted, not listed. Within Slack's 50 blocks a message (rows packed into sections).
 *
 * @example const { text, blocks } = rulesMessage(await gatherRules(deps, user));
 */
export function rulesMessage(r: RulesReport): SlackMessage {
  const staged = r.rules.filter((f) => f.stage === 'shadow');
  const active = r.rules.filter((f) => f.stage === 'live' && f.live.matches + f.staged.matches > 0);
  const quiet = r.rules.length - staged.length - active.length;
  const blocks: KnownBlock[] = [
    { type: 'header', text: plain('secbot rules', SLACK_LIMITS.header) },
    {
      type: 'context',
      elements: [
        md(
          `${r.rules.length} rules · ${staged.length} staged · figures for the last ${r.days} days (UTC). A staged rule is decided and counted; nothing is sent for it. \`/secbot promote <rule id>\` makes it live, \`/secbot demote <rule id>\` stages it again.`,
        ),
      ],
    },
  ];
  const rows = [
    ...(staged.length > 0 ? ['*Staged rules*'] : ['*Staged rules:* none']),
    ...staged.map(ruleRow),
    ...(active.length > 0 ? ['*Live rules that matched*'] : []),
    ...active.map(ruleRow),
  ];
  let shown = 0;
  let current = '';
  let sections = 0;
  const flush = () => {
    if (current) blocks.push({ type: 'section', text: md(current) });
    current = '';
    sections++;
  };
  for (const row of rows) {
    if (current && current.length + row.length + 1 > SECTION_CHARS) {
      if (sections + 1 >= ROW_BLOCKS) break;
      flush();
    }
    current = current ? `${current}\n${row}` : row;
    if (row.startsWith('•')) shown++;
  }
  flush();
  const listed = staged.length + active.length;
  const notes: string[] = [];
  if (shown < listed) notes.push(`…and ${listed - shown} more rule(s) not shown`);
  if (quiet > 0) notes.push(`${quiet} live rule(s) matched nothing in ${r.days} days`);
  if (notes.length > 0) blocks.push({ type: 'context', elements: [md(notes.join(' · '))] });
  return { text: `secbot rules: ${r.rules.length} rules, ${staged.length} staged`, blocks };
}

/** The answer to promote / demote. */
export function stageChangedMessage(c: Extract<StageChange, { ok: true }>): SlackMessage {
  const id = cloudtrail(c.rule.id, 80);
  const text = !c.changed
    ? `Rule ${id} is already ${c.to === 'live' ? 'live' : 'staged'}. Nothing was changed.`
    : c.to === 'live'
      ? `:white_check_mark: Rule ${id} (${inert(c.rule.title, 80)}) is *live* from the next drain run: its matches ask engineers and page as the rule says. \`/secbot demote ${inert(c.rule.id, 80)}\` stages it again.`
      : `:ghost: Rule ${id} (${inert(c.rule.title, 80)}) is *staged* from the next drain run: its matches are decided and counted, nothing is sent for them. \`/secbot promote ${inert(c.rule.id, 80)}\` makes it live again.`;
  return { text, blocks: [{ type: 'section', text: md(text) }] };
}
