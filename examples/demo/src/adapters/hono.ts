import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { wslane } from '@wslane/hono';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { SocketEndpoint } from '../endpoints.js';
import type { HttpReply } from '../http-reply.js';
import type { CreateDemoApp } from './demo-app.js';

type DemoEnv = { Variables: { admitted: unknown } };

/** The demo on Hono 4 (@hono/node-server): sockets behind an admit middleware. */
export const createHonoDemo: CreateDemoApp = (config, routesFor) => {
  const app = new Hono<DemoEnv>();
  const { upgradeWebSocket, injectWebSocket, hub } = wslane({ app, ...config });
  const { pages, sockets } = routesFor(hub);
  for (const page of pages) app.get(page.path, (c) => send(c, page.reply()));
  for (const socket of sockets) {
    const context = (c: Context): unknown => c.get('admitted');
    app.get(socket.path, admit(socket), upgradeWebSocket(socket.route, { context }));
  }
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  injectWebSocket(server);
  return { server, hub };
};

/** The endpoint's query check as Hono middleware: a refusal is an ordinary Hono response. */
function admit(endpoint: SocketEndpoint): MiddlewareHandler<DemoEnv> {
  return async (c, next) => {
    const admission = endpoint.admit(new URL(c.req.url).searchParams);
    if (!admission.ok) return send(c, admission.reply);
    c.set('admitted', admission.context);
    await next();
  };
}

function send(c: Context, reply: HttpReply): Response {
  return c.body(reply.body, reply.status as ContentfulStatusCode, reply.headers);
}
