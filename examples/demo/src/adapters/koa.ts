import { createServer } from 'node:http';
import Router from '@koa/router';
import { wslane } from '@wslane/koa';
import Koa, { type Context, type Middleware } from 'koa';
import type { SocketEndpoint } from '../endpoints.js';
import type { HttpReply } from '../http-reply.js';
import type { CreateDemoApp } from './demo-app.js';

/** The demo on Koa 3 with @koa/router: sockets behind an admit middleware on the same router. */
export const createKoaDemo: CreateDemoApp = (config, routesFor) => {
  const app = new Koa();
  const router = new Router();
  const lane = wslane(app, config);
  const { pages, sockets } = routesFor(lane.hub);
  for (const page of pages) router.get(page.path, (ctx) => send(ctx, page.reply()));
  for (const socket of sockets) {
    const context = (ctx: Context): unknown => ctx.state.admitted;
    router.get(socket.path, admit(socket), lane.upgrade(socket.route, { context }));
  }
  app.use(router.routes());
  const server = createServer(app.callback());
  lane.attach(server);
  return { server, hub: lane.hub };
};

/** The endpoint's query check as Koa middleware: a refusal is an ordinary Koa response. */
function admit(endpoint: SocketEndpoint): Middleware {
  return async (ctx, next) => {
    const admission = endpoint.admit(new URLSearchParams(ctx.querystring));
    if (!admission.ok) return send(ctx, admission.reply);
    ctx.state.admitted = admission.context;
    await next();
  };
}

function send(ctx: Context, reply: HttpReply): void {
  ctx.status = reply.status;
  ctx.set(reply.headers);
  ctx.body = reply.body;
}
