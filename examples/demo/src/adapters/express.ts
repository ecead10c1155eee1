import { createServer } from 'node:http';
import { wslane } from '@wslane/express';
import express, { type RequestHandler, type Response } from 'express';
import type { SocketEndpoint } from '../endpoints.js';
import type { HttpReply } from '../http-reply.js';
import type { CreateDemoApp } from './demo-app.js';

/** The demo on Express 5: each endpoint is an `app.get` route, sockets behind an admit middleware. */
export const createExpressDemo: CreateDemoApp = (config, routesFor) => {
  const app = express();
  app.disable('x-powered-by');
  const lane = wslane(app, config);
  const { pages, sockets } = routesFor(lane.hub);
  for (const page of pages) app.get(page.path, (_req, res) => send(res, page.reply()));
  for (const socket of sockets) {
    const context = (_req: unknown, res: Response): unknown => res.locals.admitted;
    app.get(socket.path, admit(socket), lane.upgrade(socket.route, { context }));
  }
  const server = createServer(app);
  lane.attach(server);
  return { server, hub: lane.hub };
};

/** The endpoint's query check as Express middleware: a refusal is an ordinary Express response. */
function admit(endpoint: SocketEndpoint): RequestHandler {
  return (req, res, next) => {
    const at = req.originalUrl.indexOf('?');
    const admission = endpoint.admit(
      new URLSearchParams(at === -1 ? '' : req.originalUrl.slice(at)),
    );
    if (!admission.ok) return send(res, admission.reply);
    res.locals.admitted = admission.context;
    next();
  };
}

function send(res: Response, reply: HttpReply): void {
  res.status(reply.status).set(reply.headers).send(reply.body);
}
