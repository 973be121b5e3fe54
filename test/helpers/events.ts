/** The one event factory for tests: complete CloudTrail records for a named engineer, and their envelopes. */
import { randomUUID } from 'node:crypto';
import type { CloudTrailRecord } from '../../cloudtrail/record.js';
import { toEventBridgeEvent } from '../../integrations/enqueue.js';
import { completeRecord } from '../../rules/testing.js';

/** An IAM user `name` in account 111122223333 (email name@example.com via the identity map or domain). */
export function iamUser(name: string, account = '111122223333') {
  return {
    type: 'IAMUser',
    principalId: `AIDA${name.toUpperCase().padEnd(16, 'X').slice(0, 16)}`,
    arn: `arn:aws:iam::${account}:user/${name}`,
    accountId: account,
    accessKeyId: `AKIA${name.toUpperCase().padEnd(16, 'X').slice(0, 16)}`,
    userName: name,
  };
}

/** An Identity Center session of `email` (the principal carries the email). */
export function ssoUser(email: string, account = '111122223333') {
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLESSO00001:${email}`,
    arn: `arn:aws:sts::${account}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/${email}`,
    accountId: account,
    sessionContext: {
      sessionIssuer: {
        type: 'Role',
        arn: `arn:aws:iam::${account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef`,
        userName: 'AWSReservedSSO_Admin_0123456789abcdef',
      },
      attributes: { mfaAuthenticated: 'true', creationDate: new Date().toISOString() },
    },
  };
}

export function makeRecord(partial: Record<string, unknown> = {}, now = new Date()): CloudTrailRecord {
  return completeRecord({ eventID: randomUUID(), ...partial }, now);
}

/** A notify-level call (CreateUser) by `user`, a minute ago. */
export function notifyCall(user: string, extra: Record<string, unknown> = {}): CloudTrailRecord {
  return makeRecord({
    eventName: 'CreateUser',
    userIdentity: iamUser(user),
    requestParameters: { userName: `made-by-${user}` },
    ...extra,
  });
}

export const logCall = (user: string) =>
  makeRecord({ eventName: 'CreateGroup', userIdentity: iamUser(user) });
export const alertCall = (user: string) =>
  makeRecord({
    eventSource: 'cloudtrail.amazonaws.com',
    eventName: 'StopLogging',
    userIdentity: iamUser(user),
  });

export const asEventBridge = (r: CloudTrailRecord) => JSON.stringify(toEventBridgeEvent(r));

/**
 * The alert id a channel alert message names (its last context line, `secbot alert \`…\``). Alert calls
 * of one burst share an alert whose id is the burst's (handlers/alert-bursts.ts), not `a_<eventID>`.
 */
export function alertIdOfMessage(m: { blocks?: unknown }): string {
  const id = /secbot alert `(a_[^`]+)`/.exec(JSON.stringify(m.blocks ?? []))?.[1];
  if (!id) throw new Error('not an alert message');
  return id;
}
