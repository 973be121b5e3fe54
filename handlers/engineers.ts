/** Engineer resolution without Slack (shadow mode): the principal's email, else its stable key. */
import type { EngineerDirectory } from './ports.js';

export function principalDirectory(): EngineerDirectory {
  return {
    async resolve(principal) {
      return {
        ok: true,
        engineer: { key: principal.email ?? principal.key, email: principal.email, via: 'principal' },
      };
    },
  };
}
