/**
 * Preload for a child process whose Duo traffic must reach a test's local Duo server (see duo-server.ts):
 * `node --import tsx --import ./test/helpers/duo-preload.ts <script>` with DUO_HOST and SECBOT_TEST_DUO_FORWARD
 * (the server's `http://127.0.0.1:<port>`) set; `DuoServer.childArgs()` / `childEnv()` give both.
 */
import { installDuoForwarding } from './duo-server.js';

const host = process.env.DUO_HOST;
const target = process.env.SECBOT_TEST_DUO_FORWARD;
if (host && target) installDuoForwarding(host, target);
