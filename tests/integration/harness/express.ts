import { createServer } from 'node:http';
import type { Hub } from '@wslane/core';
import { listenForTest } from '@wslane/core/testing';
import { type ExpressLane, wslane } from '@wslane/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { AUTH, type ConformanceContext, createConformanceRoutes } from '../conformance-routes.js';
import { conformanceContext, ROUTED_PATHS, toConformanceServer } from './conformance-server.js';
import type { Harness } from './harness.js';

/** @wslane/express: routes, params and auth are Express's own; the lane only upgrades. */
export const expressHarness: Harness = {
  name: 'express',
  async start(options, serverOptions = {}) {
    let lane: ExpressLane | undefined;
    const routes = createConformanceRoutes(() => lane?.hub as Hub);
    const app = express();
    lane = wslane(app, options);
    const upgrade = (path: keyof typeof routes) =>
      (lane as ExpressLane).upgrade(routes[path], { context: contextOf });
    app.get('/health', (_req, res) => {
      res.type('text').send('ok');
    });
    for (const path of ROUTED_PATHS) app.get(path, upgrade(path));
    app.get('/ws/whoami', requireUser, upgrade('/ws/whoami'));
    const server = createServer(serverOptions, app);
    lane.attach(server);
    return toConformanceServer(lane.hub, await listenForTest(server));
  },
};

/** AUTH as Express middleware: the refusal is an ordinary Express response. */
function requireUser(req: Request, res: Response, next: NextFunction): void {
  const token = req.headers.authorization;
  if (token === AUTH.forbiddenToken) {
    res.sendStatus(403);
    return;
  }
  if (token !== AUTH.goodToken) {
    res.set('WWW-Authenticate', 'Bearer').sendStatus(401);
    return;
  }
  res.setHeader('Set-Cookie', AUTH.cookie);
  res.locals.user = AUTH.user;
  next();
}

function contextOf(req: Request, res: Response): ConformanceContext {
  const params = { ...req.params } as Record<string, string>;
  return conformanceContext(params, req.query as Record<string, string>, res.locals.user);
}
