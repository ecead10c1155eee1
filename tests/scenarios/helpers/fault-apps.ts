import { createServer, type IncomingMessage, type Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { createAdaptorServer } from '@hono/node-server';
import Router from '@koa/router';
import { createHub, createRoute, type Hub, type RawMessage, upgradeRefusal } from '@wslane/core';
import { listenForTest, type TestServer } from '@wslane/core/testing';
import { wslane as expressLane } from '@wslane/express';
import { wslane as honoLane } from '@wslane/hono';
import { wslane as koaLane } from '@wslane/koa';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import Koa from 'koa';

/**
 * Paths every fault app serves, each behind its framework's own middleware:
 * - `/ws/echo`: an echo route;
 * - `/ws/reject`: async middleware that rejects with a plain Error (→ 500);
 * - `/ws/throw`: middleware that throws synchronously (→ 500);
 * - `/ws/helper`: the framework's own error helper with status 403;
 * - `/ws/slow-auth`: auth middleware that takes {@link SLOW_AUTH_MS}, then an echo route;
 * - `/ws/slow-deny`: the same wait, then a 401 with `WWW-Authenticate: Bearer`.
 */
export type FaultPath =
  | '/ws/echo'
  | '/ws/reject'
  | '/ws/throw'
  | '/ws/helper'
  | '/ws/slow-auth'
  | '/ws/slow-deny';

/** How long the slow auth middleware of a fault app takes. */
export const SLOW_AUTH_MS = 100;

/** A running fault app. */
export interface FaultServer {
  readonly hub: Hub;
  readonly test: TestServer;
  readonly port: number;
  close(): Promise<void>;
}

/** One framework (or plain node:http) serving the fault paths. */
export interface FaultApp {
  readonly name: string;
  start(): Promise<FaultServer>;
}

const echo = () =>
  createRoute<RawMessage, RawMessage, unknown>({ name: 'echo', onMessage: (m, c) => c.send(m) });

function fail(): never {
  throw new Error('middleware bug');
}

async function running(hub: Hub, server: Server): Promise<FaultServer> {
  const test = await listenForTest(server);
  const address = server.address();
  return {
    hub,
    test,
    port: typeof address === 'object' && address !== null ? address.port : 0,
    close: async () => {
      await hub.close({ timeout: 500 });
      await test.close();
    },
  };
}

const nodeHttp: FaultApp = {
  name: 'node:http',
  async start() {
    const hub = createHub();
    const route = echo();
    const server = createServer((_req, res) => res.writeHead(404).end());
    const slow = async (_req: IncomingMessage, headers: Record<string, string | string[]>) => {
      await delay(SLOW_AUTH_MS);
      headers['X-Auth'] = 'slow';
      return {};
    };
    hub.attach(server, {
      '/ws/echo': route,
      '/ws/reject': { route, context: async () => fail() },
      '/ws/throw': { route, context: () => fail() },
      '/ws/helper': {
        route,
        context: () => {
          throw upgradeRefusal(403);
        },
      },
      '/ws/slow-auth': { route, context: slow },
      '/ws/slow-deny': {
        route,
        context: async () => {
          await delay(SLOW_AUTH_MS);
          throw upgradeRefusal(401, { 'WWW-Authenticate': 'Bearer' });
        },
      },
    });
    return running(hub, server);
  },
};

const expressApp: FaultApp = {
  name: 'express',
  async start() {
    const app = express();
    const lane = expressLane(app);
    const route = echo();
    const slow = async (_req: Request, _res: Response, next: NextFunction) => {
      await delay(SLOW_AUTH_MS);
      next();
    };
    app.get('/ws/echo', lane.upgrade(route));
    app.get('/ws/reject', async () => fail(), lane.upgrade(route));
    app.get('/ws/throw', () => fail(), lane.upgrade(route));
    app.get(
      '/ws/helper',
      (_req, _res, next) => next(Object.assign(new Error('forbidden'), { status: 403 })),
      lane.upgrade(route),
    );
    app.get('/ws/slow-auth', slow, lane.upgrade(route));
    app.get('/ws/slow-deny', slow, (_req, res) => {
      res.set('WWW-Authenticate', 'Bearer').sendStatus(401);
    });
    const server = createServer(app);
    lane.attach(server);
    return running(lane.hub, server);
  },
};

const koaApp: FaultApp = {
  name: 'koa',
  async start() {
    const app = new Koa();
    // Koa logs every 5xx to stderr unless silent; the status is what is under test.
    app.silent = true;
    const lane = koaLane(app);
    const route = echo();
    const router = new Router();
    const slow = async (_ctx: Koa.Context, next: Koa.Next) => {
      await delay(SLOW_AUTH_MS);
      await next();
    };
    router.get('/ws/echo', lane.upgrade(route));
    router.get('/ws/reject', async () => fail(), lane.upgrade(route));
    router.get('/ws/throw', () => fail(), lane.upgrade(route));
    router.get('/ws/helper', (ctx) => ctx.throw(403), lane.upgrade(route));
    router.get('/ws/slow-auth', slow, lane.upgrade(route));
    router.get('/ws/slow-deny', slow, (ctx) => {
      ctx.status = 401;
      ctx.set('WWW-Authenticate', 'Bearer');
    });
    app.use(router.routes());
    const server = createServer(app.callback());
    lane.attach(server);
    return running(lane.hub, server);
  },
};

const honoApp: FaultApp = {
  name: 'hono',
  async start() {
    const app = new Hono();
    const { upgradeWebSocket, injectWebSocket, hub } = honoLane({ app });
    const route = echo();
    const slow = async (_c: unknown, next: () => Promise<void>) => {
      await delay(SLOW_AUTH_MS);
      await next();
    };
    app.get('/ws/echo', upgradeWebSocket(route));
    app.get('/ws/reject', async () => fail(), upgradeWebSocket(route));
    app.get('/ws/throw', () => fail(), upgradeWebSocket(route));
    app.get(
      '/ws/helper',
      () => {
        throw new HTTPException(403);
      },
      upgradeWebSocket(route),
    );
    app.get('/ws/slow-auth', slow, upgradeWebSocket(route));
    app.get('/ws/slow-deny', slow, (c) =>
      c.text('Unauthorized', 401, { 'WWW-Authenticate': 'Bearer' }),
    );
    const server = createAdaptorServer({ fetch: app.fetch }) as Server;
    injectWebSocket(server);
    return running(hub, server);
  },
};

/** The core's own attach and the three adapters, each serving the same {@link FaultPath}s. */
export const faultApps: readonly FaultApp[] = [nodeHttp, expressApp, koaApp, honoApp];
