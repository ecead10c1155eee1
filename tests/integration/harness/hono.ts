import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { listenForTest } from '@wslane/core/testing';
import { wslane } from '@wslane/hono';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { AUTH, type ConformanceContext, createConformanceRoutes } from '../conformance-routes.js';
import { conformanceContext, ROUTED_PATHS, toConformanceServer } from './conformance-server.js';
import type { Harness } from './harness.js';

type AppEnv = { Variables: { user?: string } };

/** @wslane/hono on @hono/node-server: routing, params and auth are Hono's own. */
export const honoHarness: Harness = {
  name: 'hono',
  async start(options, serverOptions = {}) {
    const app = new Hono<AppEnv>();
    const { upgradeWebSocket, injectWebSocket, hub } = wslane({ app, ...options });
    const routes = createConformanceRoutes(() => hub);
    const upgrade = (path: keyof typeof routes) =>
      upgradeWebSocket(routes[path], { context: contextOf });
    app.get('/health', (c) => c.text('ok'));
    for (const path of ROUTED_PATHS) app.get(path, upgrade(path));
    app.get('/ws/whoami', requireUser, upgrade('/ws/whoami'));
    const server = createAdaptorServer({ fetch: app.fetch, serverOptions }) as Server;
    injectWebSocket(server);
    return toConformanceServer(hub, await listenForTest(server));
  },
};

/** AUTH as Hono middleware: the refusal is an ordinary Hono response. */
const requireUser: MiddlewareHandler<AppEnv> = async (c, next) => {
  const token = c.req.header('authorization');
  if (token === AUTH.forbiddenToken) return c.text('Forbidden', 403);
  if (token !== AUTH.goodToken) {
    return c.text('Unauthorized', 401, { 'WWW-Authenticate': 'Bearer' });
  }
  c.header('Set-Cookie', AUTH.cookie);
  c.set('user', AUTH.user);
  await next();
};

function contextOf(c: Context<AppEnv>): ConformanceContext {
  return conformanceContext(c.req.param(), c.req.query(), c.get('user'));
}
