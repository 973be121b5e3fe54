/** Registers every listener: staff middleware first, then one `register` per kind. */
import type { App } from '@slack/bolt';
import * as actions from './actions/index.js';
import * as commands from './commands/index.js';
import type { ListenerDeps } from './deps.js';
import * as events from './events/index.js';
import { staffOnly } from './middleware/staff-only.js';

export const registerListeners = (app: App, deps: ListenerDeps) => {
  app.use(staffOnly(deps));
  actions.register(app, deps);
  commands.register(app, deps);
  events.register(app, deps);
};
