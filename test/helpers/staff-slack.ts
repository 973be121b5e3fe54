/** Staff in the local Slack: `/secbot …` answers and the App Home, for end-to-end tests. */
import assert from 'node:assert/strict';
import type { JsonObject } from './slack-server.js';
import type { World } from './world.js';

/** What the user saw for `/secbot <text>`: the ack's message, or the next response_url post. */
export async function slash(
  world: World,
  user: string,
  text: string,
): Promise<{ text: string; blocks: JsonObject[]; raw: string }> {
  const seen = world.slack.responses.length;
  const ack = await world.slack.sendSlashCommand({ command: '/secbot', user, text });
  let body = ack.payload ?? {};
  if (body.text === undefined && body.blocks === undefined) {
    const r = await world.slack.waitForResponse(
      (p) => world.slack.responses.indexOf(p) >= seen && p.user === user && p.source === 'slash_commands',
    );
    body = r.body;
  }
  assert.equal(body.response_type, 'ephemeral', `the answer to "/secbot ${text}" is ephemeral`);
  const blocks = (body.blocks as JsonObject[] | undefined) ?? [];
  return { text: String(body.text ?? ''), blocks, raw: JSON.stringify(blocks) + String(body.text ?? '') };
}

/** Open the App Home as `user` and return the view published for them. */
export async function openHome(world: World, user: string): Promise<JsonObject> {
  const before = world.slack.callsTo('views.publish').length;
  await world.slack.sendEvent({
    type: 'app_home_opened',
    user,
    channel: world.slack.dmChannelId(user),
    tab: 'home',
  });
  await world.slack.waitForCall(
    'views.publish',
    (c) => world.slack.callsTo('views.publish').indexOf(c) >= before && c.params.user_id === user,
  );
  const view = world.slack.homeView(user);
  assert.ok(view, `a Home was published for ${user}`);
  return view;
}
