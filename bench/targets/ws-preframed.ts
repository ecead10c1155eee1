import type { StartTarget } from './target-server.js';
import { createWsTarget } from './ws.js';

/** Raw `ws` whose broadcast frames the message once and writes the frame to each socket. */
export const startTarget: StartTarget = createWsTarget(true);
