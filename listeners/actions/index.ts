import type { App } from '@slack/bolt';
import { ACTION_ACKNOWLEDGE, ACTION_RESOLVE } from '../../views/alert.js';
import { ACTION_HOME_ACKNOWLEDGE, ACTION_HOME_UNSILENCE } from '../../views/home.js';
import { ACTION_NO, ACTION_YES } from '../../views/question.js';
import { ACTION_REMEDIATE } from '../../views/remediation.js';
import type { ListenerDeps } from '../deps.js';
import { alertChange } from './alert-change.js';
import { alertRemediate } from './alert-remediate.js';
import { homeAlertAcknowledge } from './home-alert-acknowledge.js';
import { homeUnsilence } from './home-unsilence.js';
import { verificationNo } from './verification-no.js';
import { verificationYes } from './verification-yes.js';

export const register = (app: App, deps: ListenerDeps) => {
  app.action(ACTION_YES, verificationYes(deps));
  app.action(ACTION_NO, verificationNo(deps));
  app.action(ACTION_ACKNOWLEDGE, alertChange(deps, 'acknowledge'));
  app.action(ACTION_RESOLVE, alertChange(deps, 'resolve'));
  app.action(ACTION_REMEDIATE, alertRemediate(deps));
  app.action(ACTION_HOME_ACKNOWLEDGE, homeAlertAcknowledge(deps));
  app.action(ACTION_HOME_UNSILENCE, homeUnsilence(deps));
};
