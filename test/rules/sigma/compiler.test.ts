import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileRule } from '../../../rules/loader.js';
import { formatRuleIssue } from '../../../rules/types.js';
import { compileOk, dedent, errorText, HEADER_LINES, rec, ruleYaml } from './helpers.js';

const SEL = `
  detection:
    sel:
      eventName: StopLogging
    condition: sel
`;

describe('rule file YAML', () => {
  it('refuses several documents in one file', () => {
    const { rule, issues } = compileRule(
      'multi.yml',
      `${ruleYaml(SEL)}---\n${ruleYaml(SEL, { id: 'other' })}`,
    );
    assert.equal(rule, undefined);
    assert.match(
      issues.map(formatRuleIssue).join('\n'),
      /^multi\.yml:11:1: error: file holds 2 YAML documents/m,
    );
  });

  it('refuses a YAML alias bomb', () => {
    const bomb = [
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    ].join('\n');
    const started = performance.now();
    const { rule, issues } = compileRule('bomb.yml', `${ruleYaml(SEL)}${bomb}\n`);
    assert.equal(rule, undefined);
    assert.match(issues.map(formatRuleIssue).join('\n'), /bomb\.yml: error: YAML aliases expand too much/);
    assert.ok(performance.now() - started < 2000);
  });

  it('accepts a few aliases', () => {
    const rule = compileOk(`
      detection:
        sel:
          eventName: &name StopLogging
        sel2:
          eventName: *name
        condition: sel and sel2
    `);
    assert.equal(rule.matches(rec({ eventName: 'StopLogging' })), true);
  });

  it('refuses files over 1 MB', () => {
    const big = `${ruleYaml(SEL)}description: "${'x'.repeat(1024 * 1024)}"\n`;
    const { rule, issues } = compileRule('big.yml', big);
    assert.equal(rule, undefined);
    assert.match(
      issues.map(formatRuleIssue).join('\n'),
      /big\.yml: error: file is \d+ bytes; rule files are limited to 1048576 bytes/,
    );
  });

  it('reports syntax errors and duplicate keys with line and column', () => {
    const { issues } = compileRule('bad.yml', 'title: x\nid: [unclosed\n');
    assert.match(issues.map(formatRuleIssue).join('\n'), /^bad\.yml:\d+:\d+: error: YAML: /m);
    const dup = compileRule('dup.yml', ruleYaml(SEL).replace('level: high', 'level: high\nlevel: low'));
    assert.match(
      dup.issues.map(formatRuleIssue).join('\n'),
      /^dup\.yml:4:1: error: YAML: Map keys must be unique/m,
    );
  });

  it('refuses an empty file and a non-map document', () => {
    assert.match(compileRule('e.yml', '').issues[0]?.message ?? '', /file is empty/);
    assert.match(compileRule('e.yml', '# only a comment\n').issues[0]?.message ?? '', /file is empty/);
    assert.match(compileRule('l.yml', '- a\n- b\n').issues[0]?.message ?? '', /must hold a YAML map/);
  });

  it('points at the offending node', () => {
    const text = errorText(`
      detection:
        sel:
          eventName|nope: x
        condition: sel
    `);
    assert.equal(text, `test.yml:${HEADER_LINES + 3}:5: error: unknown modifier 'nope' in 'eventName|nope'`);
  });
});

describe('rule metadata', () => {
  it('exposes id, title, level, status, tags, falsepositives, file and the line of the title', () => {
    const { rule } = compileRule(
      'rules/x.yml',
      dedent(`
        title: Trail stopped
        id: 4db60cc0-36fb-42b7-9b58-a5b53019fb74
        status: test
        description: Someone stopped a trail.
        tags: [attack.defense-evasion, attack.t1562.008]
        falsepositives:
          - Maintenance
        logsource: {product: aws, service: cloudtrail}
        level: medium
        author: someone
        x-custom: allowed
        detection:
          sel:
            eventName: StopLogging
          condition: sel
      `),
    );
    assert.ok(rule);
    assert.equal(rule.id, '4db60cc0-36fb-42b7-9b58-a5b53019fb74');
    assert.equal(rule.title, 'Trail stopped');
    assert.equal(rule.description, 'Someone stopped a trail.');
    assert.equal(rule.status, 'test');
    assert.equal(rule.level, 'medium');
    assert.deepEqual(rule.tags, ['attack.defense-evasion', 'attack.t1562.008']);
    assert.deepEqual(rule.falsepositives, ['Maintenance']);
    assert.equal(rule.file, 'rules/x.yml');
    assert.equal(rule.line, 1);
    assert.equal(rule.onFailure, 'log');
    assert.deepEqual(rule.tests, []);
  });

  it('maps level to action: informational/low → log, medium → notify, high/critical → alert', () => {
    const expected = { informational: 'log', low: 'log', medium: 'notify', high: 'alert', critical: 'alert' };
    for (const [level, action] of Object.entries(expected)) {
      assert.equal(compileOk(SEL, { level }).action, action, level);
    }
  });

  it('requires title, id, detection and a level or secbot.action', () => {
    assert.match(
      compileRule('t.yml', 'id: x\nlogsource: {product: aws, service: cloudtrail}\nlevel: low\n')
        .issues.map((i) => i.message)
        .join('\n'),
      /missing 'title'[\s\S]*missing 'detection'/,
    );
    assert.match(errorText(SEL, { level: null }), /needs a 'level' or a 'secbot.action'/);
    assert.match(
      errorText(SEL, { level: 'severe' }),
      /'level' must be one of informational, low, medium, high, critical/,
    );
  });

  it('refuses a logsource other than product: aws, service: cloudtrail', () => {
    const text = errorText(SEL, { logsource: 'product: windows\nservice: security' });
    assert.match(
      text,
      /^test\.yml:5:12: error: logsource is product: windows, service: security; secbot only evaluates product: aws, service: cloudtrail/,
    );
    assert.match(errorText(SEL, { logsource: 'product: aws\nservice: guardduty' }), /service: guardduty/);
    assert.match(errorText(SEL, { logsource: 'product: aws' }), /service: \(none\)/);
  });

  it('warns about unused search identifiers and an unknown status', () => {
    const { rule, issues } = compileRule(
      'w.yml',
      ruleYaml(`
        status: beta
        detection:
          sel:
            eventName: StopLogging
          unused:
            eventName: DeleteTrail
          condition: sel
      `),
    );
    assert.ok(rule);
    const warnings = issues.filter((i) => i.severity === 'warning').map(formatRuleIssue);
    assert.equal(warnings.length, 2);
    assert.match(warnings.join('\n'), /w\.yml:7:9: warning: 'status' must be one of/);
    assert.match(
      warnings.join('\n'),
      /w\.yml:11:3: warning: search identifier 'unused' is not used by the condition/,
    );
  });

  it('never throws from matches, even on odd records', () => {
    const rule = compileOk(`
      detection:
        sel:
          requestParameters.a.b|contains: x
        kw: [needle]
        condition: sel or kw
    `);
    let deep: unknown = 'needle';
    for (let i = 0; i < 10_000; i++) deep = { a: [deep] };
    for (const r of [
      {},
      { requestParameters: 'str' },
      { requestParameters: [null, 1, [[]]] },
      { requestParameters: deep },
    ]) {
      assert.doesNotThrow(() => rule.matches(r as never));
    }
  });
});

describe('secbot extension block', () => {
  const withExt = (ext: string) => `${dedent(SEL)}${dedent(ext)}`;

  it('reads action, runbook, reason, on_failure and tests', () => {
    const rule = compileOk(
      withExt(`
        secbot:
          action: notify
          runbook: Ask the caller; restart the trail.
          reason: "{eventName} on {requestParameters.name}"
          on_failure: keep
          tests:
            - name: stops the trail
              fires: true
              action: alert
              record: {eventName: StopLogging, requestParameters: {name: main}}
            - name: other call
              fires: false
              record: {eventName: StartLogging}
      `),
    );
    assert.equal(rule.action, 'notify', 'secbot.action wins over level');
    assert.equal(rule.runbook, 'Ask the caller; restart the trail.');
    assert.equal(rule.reason, '{eventName} on {requestParameters.name}');
    assert.equal(rule.onFailure, 'keep');
    assert.deepEqual(rule.tests, [
      {
        name: 'stops the trail',
        fires: true,
        action: 'alert',
        record: { eventName: 'StopLogging', requestParameters: { name: 'main' } },
      },
      { name: 'other call', fires: false, record: { eventName: 'StartLogging' } },
    ]);
  });

  it('test records keep keys like __proto__ as own data', () => {
    const rule = compileOk(
      withExt(`
        secbot:
          tests:
            - name: pollution
              fires: false
              record: {requestParameters: {__proto__: {polluted: yes}}}
      `),
    );
    const params = rule.tests[0]?.record.requestParameters as Record<string, unknown>;
    assert.ok(Object.hasOwn(params, '__proto__'));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('refuses bad values and unknown keys, with positions', () => {
    const text = errorText(
      withExt(`
        secbot:
          action: page
          on_failure: maybe
          reason: "{eventName"
          runbok: typo
          tests:
            - name: x
              fires: yes
              record: {}
            - fires: true
              record: {}
      `),
    );
    assert.match(text, /test\.yml:12:11: error: secbot\.action must be one of log, notify, alert/);
    assert.match(text, /test\.yml:13:15: error: secbot\.on_failure must be 'log' or 'keep'/);
    assert.match(text, /secbot\.reason: unbalanced \{ or \}/);
    assert.match(text, /test\.yml:15:3: error: unknown key 'secbot\.runbok'/);
    assert.match(text, /secbot\.tests\[0\]\.fires must be true or false/);
    assert.match(text, /secbot\.tests\[1\] needs a name/);
  });
});

describe('eventSources / eventNames', () => {
  const names = (body: string) => {
    const r = compileOk(body);
    return { eventNames: r.eventNames, eventSources: r.eventSources };
  };

  it('come from plain equality values', () => {
    assert.deepEqual(
      names(`
        detection:
          sel:
            eventSource: cloudtrail.amazonaws.com
            eventName: [StopLogging, DeleteTrail]
          condition: sel
      `),
      { eventNames: ['StopLogging', 'DeleteTrail'], eventSources: ['cloudtrail.amazonaws.com'] },
    );
  });

  it('AND intersects the constraining children; OR unions only when every branch constrains', () => {
    assert.deepEqual(
      names(`
        detection:
          a:
            eventName: [StopLogging, DeleteTrail]
          b:
            eventName: [DeleteTrail, UpdateTrail]
          c:
            userAgent: x
          condition: a and b and c
      `).eventNames,
      ['DeleteTrail'],
    );
    assert.deepEqual(
      names(`
        detection:
          a:
            eventName: StopLogging
          b:
            eventName: CreateUser
          condition: a or b
      `).eventNames,
      ['StopLogging', 'CreateUser'],
    );
    assert.equal(
      names(`
        detection:
          a:
            eventName: StopLogging
          c:
            userAgent: x
          condition: a or c
      `).eventNames,
      undefined,
    );
    assert.deepEqual(
      names(`
        detection:
          sel_a:
            eventName: StopLogging
          sel_b:
            eventName: CreateUser
          condition: 1 of sel_*
      `).eventNames,
      ['StopLogging', 'CreateUser'],
    );
    assert.deepEqual(
      names(`
        detection:
          sel:
            - eventName: StopLogging
            - eventName: CreateUser
              eventSource: iam.amazonaws.com
          condition: sel
      `),
      { eventNames: ['StopLogging', 'CreateUser'], eventSources: undefined },
    );
  });

  it('not, wildcards, modifiers and keywords leave the field unconstrained', () => {
    const un = (sel: string, condition = 'sel') =>
      names(`
        detection:
          sel:
            ${sel}
          kw: [x]
          condition: ${condition}
      `).eventNames;
    assert.equal(un('eventName: StopLogging', 'not sel'), undefined);
    assert.equal(un("eventName: 'Stop*'"), undefined);
    assert.equal(un('eventName|startswith: Stop'), undefined);
    assert.equal(un('eventName|cased: StopLogging'), undefined);
    assert.equal(un('eventName: StopLogging', 'kw'), undefined);
    assert.deepEqual(un('eventName: StopLogging', 'sel and not kw'), ['StopLogging']);
    assert.deepEqual(un("eventName: 'Stop\\*'"), ['Stop*'], 'an escaped star is a plain character');
  });

  it('warns when the constraints exclude each other', () => {
    const { issues, rule } = compileRule(
      't.yml',
      ruleYaml(`
        detection:
          a:
            eventName: StopLogging
          b:
            eventName: CreateUser
          condition: a and b
      `),
    );
    assert.deepEqual(rule?.eventNames, []);
    assert.match(issues.map(formatRuleIssue).join('\n'), /warning: the condition can never match/);
  });
});
