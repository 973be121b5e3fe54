import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../config/index.js';
import { ConfigError } from '../../lib/errors.js';

describe('remediation configuration', () => {
  it('defaults: no role (remediations run in shadow) and a Duo push required', () => {
    assert.deepEqual(loadConfig({}).remediation, { roleName: undefined, requireDuo: true });
  });

  it('reads the role name and the Duo switch', () => {
    const c = loadConfig({ SECBOT_REMEDIATION_ROLE: 'secbot-remediation', SECBOT_REMEDIATION_DUO: 'false' });
    assert.deepEqual(c.remediation, { roleName: 'secbot-remediation', requireDuo: false });
  });

  it('refuses a role ARN or path where a role name belongs, naming the variable', () => {
    assert.throws(
      () => loadConfig({ SECBOT_REMEDIATION_ROLE: 'arn:aws:iam::111122223333:role/x' }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'SECBOT_REMEDIATION_ROLE',
    );
    assert.throws(() => loadConfig({ SECBOT_REMEDIATION_DUO: 'maybe' }), /SECBOT_REMEDIATION_DUO/);
  });
});
