import { createServer } from 'node:http';
import { wslane } from '@wslane/express';
import express from 'express';
import { listenLocal, type StartTarget } from './target-server.js';
import { createWslaneRoutes, toWslaneTarget, WSLANE_OPTIONS } from './wslane-routes.js';

/** wslane on Express 5: each path an ordinary Express route. */
export const startTarget: StartTarget = async () => {
  const app = express();
  const lane = wslane(app, WSLANE_OPTIONS);
  const routes = createWslaneRoutes();
  app.get('/echo', lane.upgrade(routes.echo));
  app.get('/room', lane.upgrade(routes.room));
  app.get('/flood', lane.upgrade(routes.flood));
  const server = createServer(app);
  lane.attach(server);
  await listenLocal(server);
  return toWslaneTarget(server, lane.hub, routes);
};
