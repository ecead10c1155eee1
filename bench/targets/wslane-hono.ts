import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { wslane } from '@wslane/hono';
import { Hono } from 'hono';
import { listenLocal, type StartTarget } from './target-server.js';
import { createWslaneRoutes, toWslaneTarget, WSLANE_OPTIONS } from './wslane-routes.js';

/** wslane on Hono 4 and @hono/node-server, the route form of its `upgradeWebSocket`. */
export const startTarget: StartTarget = async () => {
  const app = new Hono();
  const { upgradeWebSocket, injectWebSocket, hub } = wslane({ app, ...WSLANE_OPTIONS });
  const routes = createWslaneRoutes();
  app.get('/echo', upgradeWebSocket(routes.echo));
  app.get('/room', upgradeWebSocket(routes.room));
  app.get('/flood', upgradeWebSocket(routes.flood));
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  injectWebSocket(server);
  await listenLocal(server);
  return toWslaneTarget(server, hub, routes);
};
