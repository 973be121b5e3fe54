import type { App } from '@slack/bolt';
import { ACTION_ACKNOWLEDGE, ACTION_RESOLVE } from '../../views/alert.js';
import { ACTION_NO, ACTION_YES } from '../../views/question.js';
import type { ListenerDeps } from '../deps.js';
import { alertChange } from './alert-change.js';
import { verificationNo } from './verification-no.js';
import { verificationYes } from './verification-yes.js';

export const register = (app: App, deps: ListenerDeps) => {
  app.action(ACTION_YES, verificationYes(deps));
  app.action(ACTION_NO, verificationNo(deps));
  app.action(ACTION_ACKNOWLEDGE, alertChange(deps, 'acknowledge'));
  app.action(ACTION_RESOLVE, alertChange(deps, 'resolve'));
};
