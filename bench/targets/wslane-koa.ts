import { createServer } from 'node:http';
import Router from '@koa/router';
import { wslane } from '@wslane/koa';
import Koa from 'koa';
import { listenLocal, type StartTarget } from './target-server.js';
import { createWslaneRoutes, toWslaneTarget, WSLANE_OPTIONS } from './wslane-routes.js';

/** wslane on Koa 3 with @koa/router. */
export const startTarget: StartTarget = async () => {
  const app = new Koa();
  const router = new Router();
  const lane = wslane(app, WSLANE_OPTIONS);
  const routes = createWslaneRoutes();
  router.get('/echo', lane.upgrade(routes.echo));
  router.get('/room', lane.upgrade(routes.room));
  router.get('/flood', lane.upgrade(routes.flood));
  app.use(router.routes());
  const server = createServer(app.callback());
  lane.attach(server);
  await listenLocal(server);
  return toWslaneTarget(server, lane.hub, routes);
};
