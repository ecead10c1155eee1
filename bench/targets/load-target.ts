import type { TargetName } from '../harness/target-list.js';
import type { StartTarget } from './target-server.js';

interface TargetModule {
  readonly startTarget: StartTarget;
}

const LOADERS: Record<TargetName, () => Promise<TargetModule>> = {
  ws: () => import('./ws.js'),
  'ws-preframed': () => import('./ws-preframed.js'),
  'socket-io': () => import('./socket-io.js'),
  'express-ws': () => import('./express-ws.js'),
  'hono-node': () => import('./hono-node.js'),
  crossws: () => import('./crossws.js'),
  'wslane-express': () => import('./wslane-express.js'),
  'wslane-koa': () => import('./wslane-koa.js'),
  'wslane-hono': () => import('./wslane-hono.js'),
};

/** Loads only the one target a server process runs, so no other library sits in its memory. */
export async function loadTarget(name: TargetName): Promise<StartTarget> {
  return (await LOADERS[name]()).startTarget;
}
