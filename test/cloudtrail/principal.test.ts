import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAwsServiceHost, isEmail, principalOf } from '../../cloudtrail/principal.js';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';

/** A record around a given userIdentity (identities below are written for these tests). */
function rec(userIdentity: unknown, extra: Record<string, unknown> = {}): CloudTrailRecord {
  return {
    eventID: 'e0000000-0000-4000-8000-000000000001',
    eventName: 'PutUserPolicy',
    eventSource: 'iam.amazonaws.com',
    eventTime: '2024-05-01T12:00:00Z',
    sourceIPAddress: '203.0.113.9',
    userAgent: 'aws-cli/2.15.0',
    userIdentity: userIdentity as CloudTrailRecord['userIdentity'],
    ...extra,
  };
}

const ACCOUNT = '123456789012';

function assumedRole(
  role: string,
  session: string,
  opts: { mfa?: string; issuerArn?: string } = {},
): unknown {
  return {
    type: 'AssumedRole',
    principalId: `AROATEST00000000000A:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
    accountId: ACCOUNT,
    accessKeyId: 'ASIATEST00000000000A',
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        principalId: 'AROATEST00000000000A',
        arn: opts.issuerArn ?? `arn:aws:iam::${ACCOUNT}:role/${role}`,
        accountId: ACCOUNT,
        userName: role,
      },
      webIdFederationData: {},
      attributes: { creationDate: '2024-05-01T11:00:00Z', mfaAuthenticated: opts.mfa ?? 'false' },
    },
  };
}

describe('principalOf: identity types', () => {
  it('IAMUser: user name, ARN key, no email for a plain name', () => {
    const p = principalOf(
      rec({
        type: 'IAMUser',
        principalId: 'AIDATEST000000000001',
        arn: `arn:aws:iam::${ACCOUNT}:user/ops/sam`,
        accountId: ACCOUNT,
        userName: 'sam',
      }),
    );
    assert.equal(p.type, 'IAMUser');
    assert.equal(p.name, 'sam');
    assert.equal(p.key, `arn:aws:iam::${ACCOUNT}:user/ops/sam`);
    assert.equal(p.accountId, ACCOUNT);
    assert.equal(p.email, undefined);
    assert.equal(p.mfa, undefined);
    assert.equal(p.sourceIp, '203.0.113.9');
    assert.equal(p.userAgent, 'aws-cli/2.15.0');
    assert.deepEqual([p.isAwsService, p.isAutomation, p.isUnattributable], [false, false, false]);
  });

  it('IAMUser: name from the ARN when userName is absent; email when named with one', () => {
    const p = principalOf(
      rec({ type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/path/to/kim`, accountId: ACCOUNT }),
    );
    assert.equal(p.name, 'kim');
    const e = principalOf(
      rec({
        type: 'IAMUser',
        arn: `arn:aws:iam::${ACCOUNT}:user/Kim.Lee@Example.COM`,
        userName: 'Kim.Lee@Example.COM',
      }),
    );
    assert.equal(e.email, 'kim.lee@example.com');
    assert.equal(e.emailSource, 'user_name');
    assert.equal(e.accountId, ACCOUNT, 'account taken from the ARN');
  });

  it('AssumedRole: role/session name, session, issuer, session ARN as key', () => {
    const p = principalOf(rec(assumedRole('Deployer', 'build-42', { mfa: 'true' })));
    assert.equal(p.type, 'AssumedRole');
    assert.equal(p.name, 'Deployer/build-42');
    assert.equal(p.sessionName, 'build-42');
    assert.equal(p.issuerArn, `arn:aws:iam::${ACCOUNT}:role/Deployer`);
    assert.equal(p.issuerName, 'Deployer');
    assert.equal(p.key, `arn:aws:sts::${ACCOUNT}:assumed-role/Deployer/build-42`);
    assert.equal(p.mfa, true);
    assert.equal(p.email, undefined);
    assert.equal(p.isUnattributable, false);
  });

  it('AssumedRole of an AWSReservedSSO_ role: Identity Center human, email from the session name', () => {
    const role = 'AWSReservedSSO_AdministratorAccess_0123456789abcdef';
    const p = principalOf(
      rec(
        assumedRole(role, 'Alex.Doe@Example.com', {
          issuerArn: `arn:aws:iam::${ACCOUNT}:role/aws-reserved/sso.amazonaws.com/${role}`,
        }),
      ),
    );
    assert.equal(p.type, 'AssumedRole');
    assert.equal(p.email, 'alex.doe@example.com');
    assert.equal(p.emailSource, 'session_name');
    assert.equal(p.sessionName, 'Alex.Doe@Example.com', 'the session name itself is not rewritten');
    assert.equal(p.issuerName, role);
    assert.equal(p.isAwsService, false);
  });

  it('AssumedRole: any session name that is an email counts; other names do not', () => {
    assert.equal(principalOf(rec(assumedRole('okta-admin', 'pat@example.io'))).email, 'pat@example.io');
    assert.equal(principalOf(rec(assumedRole('AWSReservedSSO_Dev_1', 'pat'))).email, undefined);
    assert.equal(principalOf(rec(assumedRole('r', 'pat@localhost'))).email, undefined);
  });

  it('AssumedRole without an ARN: session and email from the principalId', () => {
    const p = principalOf(
      rec({
        type: 'AssumedRole',
        principalId: 'AROATEST00000000000B:robin@example.net',
        accountId: ACCOUNT,
        sessionContext: { sessionIssuer: { type: 'Role', userName: 'Support' } },
      }),
    );
    assert.equal(p.sessionName, 'robin@example.net');
    assert.equal(p.name, 'Support/robin@example.net');
    assert.equal(p.email, 'robin@example.net');
    assert.equal(p.emailSource, 'session_name');
    assert.equal(p.key, 'Support/robin@example.net');
  });

  it('principalId email is the last resort', () => {
    const p = principalOf(
      rec({
        type: 'AssumedRole',
        principalId: 'AROATEST00000000000C:jo@example.com',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/OddRole`,
      }),
    );
    assert.equal(p.email, 'jo@example.com');
    assert.equal(p.emailSource, 'principal_id');
  });

  it('Root: "root", keyed by account; ConsoleLogin MFA from additionalEventData', () => {
    const identity = {
      type: 'Root',
      principalId: ACCOUNT,
      arn: `arn:aws:iam::${ACCOUNT}:root`,
      accountId: ACCOUNT,
    };
    const login = (mfaUsed: string) =>
      principalOf(
        rec(identity, {
          eventName: 'ConsoleLogin',
          eventSource: 'signin.amazonaws.com',
          additionalEventData: {
            LoginTo: 'https://console.aws.amazon.com/',
            MobileVersion: 'No',
            MFAUsed: mfaUsed,
          },
        }),
      );
    const p = login('No');
    assert.equal(p.type, 'Root');
    assert.equal(p.name, 'root');
    assert.equal(p.key, `root:${ACCOUNT}`);
    assert.equal(p.mfa, false);
    assert.equal(login('Yes').mfa, true);
    assert.equal(p.isUnattributable, false);
    assert.equal(principalOf(rec({ type: 'Root', userName: 'root' })).key, 'root:unknown');
  });

  it('MFA: ConsoleLogin without MFAUsed falls back to the session; absent means undefined', () => {
    const withSession = principalOf(
      rec(assumedRole('R', 's', { mfa: 'true' }), { eventName: 'ConsoleLogin' }),
    );
    assert.equal(withSession.mfa, true);
    assert.equal(
      principalOf(rec({ type: 'IAMUser', userName: 'x' }, { eventName: 'ConsoleLogin' })).mfa,
      undefined,
    );
    const odd = rec({
      type: 'IAMUser',
      userName: 'x',
      sessionContext: { attributes: { mfaAuthenticated: 'maybe' } },
    });
    assert.equal(principalOf(odd).mfa, undefined);
  });

  it('FederatedUser: name from the ARN, issuer from the session context', () => {
    const p = principalOf(
      rec({
        type: 'FederatedUser',
        principalId: `${ACCOUNT}:kiosk`,
        arn: `arn:aws:sts::${ACCOUNT}:federated-user/kiosk`,
        accountId: ACCOUNT,
        sessionContext: {
          sessionIssuer: {
            type: 'IAMUser',
            arn: `arn:aws:iam::${ACCOUNT}:user/broker`,
            userName: 'broker',
          },
        },
      }),
    );
    assert.equal(p.type, 'FederatedUser');
    assert.equal(p.name, 'kiosk');
    assert.equal(p.issuerArn, `arn:aws:iam::${ACCOUNT}:user/broker`);
    assert.equal(p.issuerName, 'broker');
    assert.equal(p.key, `arn:aws:sts::${ACCOUNT}:federated-user/kiosk`);
  });

  it('IdentityCenterUser: onBehalfOf user id, email only when it is one', () => {
    const guid = principalOf(
      rec({
        type: 'IdentityCenterUser',
        accountId: ACCOUNT,
        onBehalfOf: {
          userId: '94482488-3041-7026-18f3-be45837cd0e4',
          identityStoreArn: 'arn:aws:identitystore::123456789012:identitystore/d-9067230000',
        },
        credentialId: 'EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE',
      }),
    );
    assert.equal(guid.type, 'IdentityCenterUser');
    assert.equal(guid.name, '94482488-3041-7026-18f3-be45837cd0e4');
    assert.equal(guid.key, 'identity-center:94482488-3041-7026-18f3-be45837cd0e4');
    assert.equal(guid.email, undefined);
    assert.equal(guid.isUnattributable, false);
    const mail = principalOf(
      rec({ type: 'IdentityCenterUser', accountId: ACCOUNT, onBehalfOf: { userId: 'Lee@Example.org' } }),
    );
    assert.equal(mail.email, 'lee@example.org');
    assert.equal(mail.emailSource, 'on_behalf_of');
  });

  it('SAMLUser and WebIdentityUser', () => {
    const saml = principalOf(
      rec({
        type: 'SAMLUser',
        principalId: 'SAMLTESTPROVIDERHASH:ana@example.com',
        userName: 'ana@example.com',
        identityProvider: 'bdGOnTesti4+ExamplexYfvEIdC0=',
      }),
    );
    assert.equal(saml.type, 'SAMLUser');
    assert.equal(saml.name, 'ana@example.com');
    assert.equal(saml.email, 'ana@example.com');
    assert.equal(saml.emailSource, 'user_name');
    const web = principalOf(
      rec({
        type: 'WebIdentityUser',
        principalId: 'accounts.google.com:123456789012345678901',
        userName: '123456789012345678901',
        identityProvider: 'accounts.google.com',
      }),
    );
    assert.equal(web.type, 'WebIdentityUser');
    assert.equal(web.name, '123456789012345678901');
    assert.equal(web.email, undefined);
    assert.equal(web.isUnattributable, false);
  });

  it('reads lowercase data-lake keys too', () => {
    const p = principalOf(
      rec({
        type: 'AssumedRole',
        principalid: 'AROATEST00000000000D:quinn',
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/Ops/quinn`,
        accountid: ACCOUNT,
        sessioncontext: {
          attributes: { mfaauthenticated: 'true' },
          sessionissuer: { arn: `arn:aws:iam::${ACCOUNT}:role/Ops`, username: 'Ops' },
        },
      }),
    );
    assert.equal(p.name, 'Ops/quinn');
    assert.equal(p.accountId, ACCOUNT);
    assert.equal(p.mfa, true);
    assert.equal(p.issuerArn, `arn:aws:iam::${ACCOUNT}:role/Ops`);
  });
});

describe('principalOf: AWS services', () => {
  it('type AWSService: the invoking service is the name', () => {
    const p = principalOf(
      rec(
        { type: 'AWSService', invokedBy: 'lambda.amazonaws.com' },
        { sourceIPAddress: 'lambda.amazonaws.com', userAgent: 'lambda.amazonaws.com' },
      ),
    );
    assert.equal(p.type, 'AWSService');
    assert.equal(p.name, 'lambda.amazonaws.com');
    assert.equal(p.key, 'lambda.amazonaws.com');
    assert.equal(p.isAwsService, true);
    assert.equal(p.isUnattributable, false);
  });

  it('a service event with only accountId and invokedBy is the service', () => {
    const p = principalOf(
      rec(
        { accountId: ACCOUNT, invokedBy: 'secretsmanager.amazonaws.com' },
        { eventType: 'AwsServiceEvent' },
      ),
    );
    assert.equal(p.type, 'AWSService');
    assert.equal(p.name, 'secretsmanager.amazonaws.com');
    assert.equal(p.isAwsService, true);
    assert.equal(p.isUnattributable, false);
    const internal = principalOf(rec({}, { sourceIPAddress: 'AWS Internal' }));
    assert.equal(internal.type, 'AWSService');
    assert.equal(internal.name, 'AWS Internal');
    assert.equal(internal.isAwsService, true);
  });

  it('sessions of service-linked roles are AWS services', () => {
    const p = principalOf(
      rec(
        assumedRole('AWSServiceRoleForAutoScaling', 'AutoScaling', {
          issuerArn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling`,
        }),
        { sourceIPAddress: 'autoscaling.amazonaws.com' },
      ),
    );
    assert.equal(p.type, 'AssumedRole');
    assert.equal(p.isAwsService, true);
    assert.equal(p.isUnattributable, false);
    const byPath = principalOf(
      rec(
        assumedRole('SomeServiceRole', 's', {
          issuerArn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/x.amazonaws.com/SomeServiceRole`,
        }),
      ),
    );
    assert.equal(byPath.isAwsService, true);
  });

  it('a human relayed by a service (console "AWS Internal", invokedBy a service) is still the human', () => {
    const viaConsole = principalOf(
      rec(assumedRole('Admin', 'jack', { mfa: 'true' }), {
        sourceIPAddress: 'AWS Internal',
        userAgent: 'AWS Internal',
      }),
    );
    assert.equal(viaConsole.isAwsService, false);
    assert.equal(viaConsole.name, 'Admin/jack');
    const relayed = principalOf(
      rec(
        {
          type: 'IAMUser',
          principalId: 'AIDATEST000000000002',
          arn: `arn:aws:iam::${ACCOUNT}:user/jack`,
          accountId: ACCOUNT,
          userName: 'jack',
          invokedBy: 'cloudformation.amazonaws.com',
        },
        { sourceIPAddress: 'cloudformation.amazonaws.com' },
      ),
    );
    assert.equal(relayed.isAwsService, false);
    assert.equal(relayed.type, 'IAMUser');
    assert.equal(relayed.isUnattributable, false);
  });

  it('isAwsServiceHost', () => {
    assert.equal(isAwsServiceHost('ec2.amazonaws.com'), true);
    assert.equal(isAwsServiceHost('eks-nodegroup.amazonaws.com'), true);
    assert.equal(isAwsServiceHost('amazonaws.com'), false);
    assert.equal(isAwsServiceHost('evil.amazonaws.com.example.org'), false);
    assert.equal(isAwsServiceHost('203.0.113.1'), false);
    assert.equal(isAwsServiceHost(undefined), false);
  });
});

describe('principalOf: automation and unattributable', () => {
  const automation = ['arn:aws:iam::*:role/ci-*', 'arn:aws:iam::123456789012:user/terraform'];

  it('matches automation globs against the ARN and the issuer ARN', () => {
    assert.equal(principalOf(rec(assumedRole('ci-deploy', 'run-7')), { automation }).isAutomation, true);
    const tf = rec({ type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/terraform`, userName: 'terraform' });
    assert.equal(principalOf(tf, { automation }).isAutomation, true);
    assert.equal(principalOf(rec(assumedRole('cd-deploy', 'run-7')), { automation }).isAutomation, false);
    assert.equal(principalOf(rec(assumedRole('ci-deploy', 'run-7'))).isAutomation, false, 'no globs');
    assert.equal(principalOf(rec(assumedRole('ci-deploy', 'run-7')), { automation: [] }).isAutomation, false);
    const bySession = principalOf(rec(assumedRole('Admin', 'x')), {
      automation: [`arn:aws:sts::${ACCOUNT}:assumed-role/Admin/*`],
    });
    assert.equal(bySession.isAutomation, true);
  });

  it('Unknown type, missing type, empty identity', () => {
    const unknown = principalOf(rec({ type: 'Unknown', principalId: 'x', userName: 'someone' }));
    assert.equal(unknown.type, 'Unknown');
    assert.equal(unknown.isUnattributable, true);
    const untyped = principalOf(rec({ arn: `arn:aws:iam::${ACCOUNT}:user/ghost` }));
    assert.equal(untyped.type, 'Unknown');
    assert.equal(untyped.name, 'ghost');
    assert.equal(untyped.isUnattributable, true);
    const empty = principalOf(rec({}));
    assert.equal(empty.type, 'Unknown');
    assert.equal(empty.name, 'unknown');
    assert.equal(empty.key, 'unknown');
    assert.equal(empty.isUnattributable, true);
    assert.equal(empty.isAwsService, false);
    assert.equal(principalOf(rec({ type: 'SomethingNew', arn: 'arn:x' })).type, 'Unknown');
  });

  it('AWSAccount without a principal ARN, and anonymous principals', () => {
    const acct = principalOf(
      rec({ type: 'AWSAccount', principalId: 'AIDATEST000000000003', accountId: '210987654321' }),
    );
    assert.equal(acct.type, 'AWSAccount');
    assert.equal(acct.isUnattributable, true);
    assert.equal(acct.name, 'AIDATEST000000000003');
    const withArn = principalOf(
      rec({ type: 'AWSAccount', accountId: '210987654321', arn: 'arn:aws:iam::210987654321:user/partner' }),
    );
    assert.equal(withArn.isUnattributable, false);
    const anon = principalOf(rec({ type: 'AWSAccount', accountId: 'ANONYMOUS_PRINCIPAL', principalId: '' }));
    assert.equal(anon.isUnattributable, true);
    assert.equal(anon.name, 'account:ANONYMOUS_PRINCIPAL');
    const anon2 = principalOf(rec({ type: 'AWSAccount', principalId: 'Anonymous', accountId: 'x' }));
    assert.equal(anon2.isUnattributable, true);
  });

  it('an identity with no ARN, user name or principalId is unattributable', () => {
    const p = principalOf(
      rec({ type: 'AssumedRole', accountId: ACCOUNT, sessionContext: { attributes: {} } }),
    );
    assert.equal(p.isUnattributable, true);
    assert.notEqual(p.name, '');
  });
});

describe('principalOf: robustness', () => {
  it('never throws and never returns an empty name or key, whatever the identity holds', () => {
    const weird: unknown[] = [
      null,
      undefined,
      42,
      'root',
      [],
      { type: 7, arn: 5, userName: null, principalId: {}, invokedBy: null },
      { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role/', sessionContext: 'x' },
      { type: 'AssumedRole', arn: 'arn:aws:sts::1:assumed-role//' },
      { type: 'IAMUser', arn: 'arn:aws:iam::1:user/', userName: '' },
      { type: 'FederatedUser', principalId: ':' },
      { type: 'AWSService' },
      { type: 'IdentityCenterUser', onBehalfOf: 'x' },
      { type: 'Root', accountId: 9, sessionContext: { attributes: { mfaAuthenticated: true } } },
      { type: 'AssumedRole', arn: 'not-an-arn' },
    ];
    for (const ui of weird) {
      const p = principalOf(rec(ui, { additionalEventData: 'x', sourceIPAddress: 3 }));
      assert.ok(p.name.length > 0, JSON.stringify(ui));
      assert.ok(p.key.length > 0, JSON.stringify(ui));
      assert.equal(p.sourceIp, undefined);
    }
    assert.equal(principalOf(null as unknown as CloudTrailRecord).name, 'unknown');
  });

  it('isEmail accepts sane addresses only', () => {
    for (const good of ['a@example.com', 'first.last+tag@sub.example.co.uk', "o'neil@example.ie"]) {
      assert.equal(isEmail(good), true, good);
    }
    for (const bad of [
      'a@b',
      'foo@bar',
      '@example.com',
      'a@@example.com',
      'a@-bad.com',
      'a b@example.com',
      '.a@x.com',
    ]) {
      assert.equal(isEmail(bad), false, bad);
    }
    assert.equal(isEmail(`${'a'.repeat(250)}@example.com`), false);
  });
});
