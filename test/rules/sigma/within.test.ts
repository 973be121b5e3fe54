import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileOk, dedent, errorText, rec } from './helpers.js';

const OPEN_SSH = `
  detection:
    selection_api:
      eventSource: ec2.amazonaws.com
      eventName: AuthorizeSecurityGroupIngress
    selection_open_world:
      requestParameters.ipPermissions.items.fromPort|lte: 22
      requestParameters.ipPermissions.items.toPort|gte: 22
      requestParameters.ipPermissions.items.ipRanges.items.cidrIp: '0.0.0.0/0'
    condition: selection_api and selection_open_world
`;

/** OPEN_SSH plus a secbot block. */
const withSecbot = (block: string) => dedent(OPEN_SSH) + dedent(block);

const permission = (fromPort: number, toPort: number, cidrs: string[]) => ({
  ipProtocol: 'tcp',
  fromPort,
  toPort,
  ipRanges: { items: cidrs.map((cidrIp) => ({ cidrIp })) },
});
const ingress = (...items: ReturnType<typeof permission>[]) =>
  rec({
    eventSource: 'ec2.amazonaws.com',
    eventName: 'AuthorizeSecurityGroupIngress',
    requestParameters: { groupId: 'sg-1', ipPermissions: { items } },
  });

describe('secbot.within', () => {
  const scoped = compileOk(
    withSecbot(`
    secbot:
      within:
        selection_open_world: requestParameters.ipPermissions.items
  `),
  );
  const plain = compileOk(OPEN_SSH);

  it('matches when one permission opens port 22 to the world', () => {
    const r = ingress(
      permission(443, 443, ['10.0.0.0/8']),
      permission(22, 22, ['192.168.0.0/16', '0.0.0.0/0']),
    );
    assert.equal(scoped.matches(r), true);
  });

  it('does not match when port 22 and 0.0.0.0/0 come from different permissions', () => {
    const r = ingress(permission(22, 22, ['10.0.0.0/8']), permission(443, 443, ['0.0.0.0/0']));
    assert.equal(scoped.matches(r), false);
    // Plain Sigma semantics (any element, field by field) fire on it: a safe superset.
    assert.equal(plain.matches(r), true);
  });

  it('keeps the fields outside the scope as ordinary conditions', () => {
    const r = ingress(permission(0, 65535, ['0.0.0.0/0']));
    assert.equal(scoped.matches(r), true);
    assert.equal(scoped.matches({ ...r, eventName: 'RevokeSecurityGroupIngress' }), false);
  });

  it('needs at least one element', () => {
    assert.equal(scoped.matches(ingress()), false);
    assert.equal(
      scoped.matches(rec({ eventSource: 'ec2.amazonaws.com', eventName: 'AuthorizeSecurityGroupIngress' })),
      false,
    );
  });

  it('scopes a selection that has only relative fields', () => {
    const r = compileOk(`
      detection:
        sel:
          requestParameters.ipPermissions.items.fromPort: 3389
          requestParameters.ipPermissions.items.ipRanges.items.cidrIp|cidr: 0.0.0.0/0
        condition: sel
      secbot:
        within:
          sel: requestParameters.ipPermissions.items
    `);
    assert.equal(r.matches(ingress(permission(3389, 3389, ['1.2.3.4/32']))), true);
    assert.equal(r.matches(ingress(permission(3389, 3389, ['::/0']))), false);
    assert.equal(r.matches(ingress(permission(3389, 3389, []), permission(22, 22, ['1.2.3.4']))), false);
  });
});

describe('secbot.within validation', () => {
  it('the selection must exist', () => {
    assert.match(
      errorText(
        withSecbot(`
        secbot:
          within:
            selection_missing: requestParameters.ipPermissions.items
      `),
      ),
      /test\.yml:\d+:\d+: error: secbot\.within names 'selection_missing', which is not a search identifier/,
    );
  });

  it('at least one field of the selection must start with the path', () => {
    assert.match(
      errorText(
        withSecbot(`
        secbot:
          within:
            selection_api: requestParameters.ipPermissions.items
      `),
      ),
      /no field of 'selection_api' starts with 'requestParameters\.ipPermissions\.items\.'/,
    );
  });

  it('the selection must be a map', () => {
    assert.match(
      errorText(`
        detection:
          kw: [foo]
          condition: kw
        secbot:
          within:
            kw: requestParameters.items
      `),
      /secbot\.within applies to a map selection/,
    );
  });
});
