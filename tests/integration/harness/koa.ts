import { createServer } from 'node:http';
import Router from '@koa/router';
import type { Hub } from '@wslane/core';
import { listenForTest } from '@wslane/core/testing';
import { type KoaLane, wslane } from '@wslane/koa';
import Koa, { type Context, type Next } from 'koa';
import { AUTH, type ConformanceContext, createConformanceRoutes } from '../conformance-routes.js';
import { conformanceContext, ROUTED_PATHS, toConformanceServer } from './conformance-server.js';
import type { Harness } from './harness.js';

/** @wslane/koa: routes, params and auth are Koa's and @koa/router's own; the lane only upgrades. */
export const koaHarness: Harness = {
  name: 'koa',
  async start(options, serverOptions = {}) {
    let lane: KoaLane | undefined;
    const routes = createConformanceRoutes(() => lane?.hub as Hub);
    const app = new Koa();
    lane = wslane(app, options);
    const upgrade = (path: keyof typeof routes) =>
      (lane as KoaLane).upgrade(routes[path], { context: contextOf });
    const router = new Router();
    router.get('/health', (ctx) => {
      ctx.body = 'ok';
    });
    for (const path of ROUTED_PATHS) router.get(path, upgrade(path));
    router.get('/ws/whoami', requireUser, upgrade('/ws/whoami'));
    app.use(router.routes());
    const server = createServer(serverOptions, app.callback());
    lane.attach(server);
    return toConformanceServer(lane.hub, await listenForTest(server));
  },
};

/** AUTH as Koa middleware: the refusal is an ordinary Koa response. */
async function requireUser(ctx: Context, next: Next): Promise<void> {
  const token = ctx.get('Authorization');
  if (token === AUTH.forbiddenToken) ctx.throw(403);
  if (token !== AUTH.goodToken) {
    ctx.status = 401;
    ctx.set('WWW-Authenticate', 'Bearer');
    return;
  }
  ctx.set('Set-Cookie', AUTH.cookie);
  ctx.state.user = AUTH.user;
  await next();
}

function contextOf(ctx: Context): ConformanceContext {
  const params = { ...(ctx.params as Record<string, string> | undefined) };
  const query = Object.fromEntries(new URLSearchParams(ctx.querystring));
  return conformanceContext(params, query, ctx.state.user);
}
