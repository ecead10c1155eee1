import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import Router from '@koa/router';
import { createHub, type Hub, type HubOptions, type Route, upgradeRefusal } from '@wslane/core';
import { listenForTest, type TestServer, withTimeout } from '@wslane/core/testing';
import { wslane as expressLane } from '@wslane/express';
import { wslane as honoLane } from '@wslane/hono';
import { wslane as koaLane } from '@wslane/koa';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Hono, type MiddlewareHandler } from 'hono';
import Koa, { type Context, type Next } from 'koa';
import { afterEach, expect } from 'vitest';

/** What the test decides for an upgrade waiting in the auth middleware. */
export type GateVerdict = 'allow' | 'deny';

/**
 * An app of one framework with one WebSocket path, `/ws/gated`, behind an async auth middleware
 * written the framework's own way. The middleware throws synchronously when the request has an
 * `x-op-throw` header, else it waits for the test's verdict on the request's `x-op-id`: `deny`
 * answers 401, `allow` goes on to the upgrade. `/ws/open` upgrades without any middleware.
 */
export interface GatedApp {
  readonly hub: Hub;
  readonly server: Server;
  url(path: string): string;
  /** Resolves once the upgrade with `x-op-id: id` waits in the middleware; call the result to decide. */
  reached(id: string): Promise<(verdict: GateVerdict) => void>;
}

/** Starts a {@link GatedApp} on one framework. */
export interface GatedHarness {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: any message types.
  start(route: Route<any, any, any>, options?: HubOptions): Promise<GatedApp>;
}

// biome-ignore lint/suspicious/noExplicitAny: any message types.
type AnyRoute = Route<any, any, any>;

/** The gate shared by the four apps: one waiting verdict per `x-op-id`. */
class Gates {
  readonly #waiting = new Map<string, (verdict: GateVerdict) => void>();
  readonly #watchers = new Map<string, (decide: (verdict: GateVerdict) => void) => void>();

  /** Called by the middleware: throws for `x-op-throw`, else waits for the verdict. */
  check(req: IncomingMessage): Promise<GateVerdict> {
    if (req.headers['x-op-throw'] !== undefined) throw new Error('middleware bug');
    const id = String(req.headers['x-op-id'] ?? '');
    return new Promise<GateVerdict>((resolve) => {
      this.#waiting.set(id, resolve);
      this.#watchers.get(id)?.(resolve);
    });
  }

  reached(id: string): Promise<(verdict: GateVerdict) => void> {
    const waiting = this.#waiting.get(id);
    if (waiting !== undefined) return Promise.resolve(waiting);
    return withTimeout(
      new Promise((resolve) => this.#watchers.set(id, resolve)),
      2000,
      `upgrade ${id} reaches the middleware`,
    );
  }
}

function toGatedApp(hub: Hub, gates: Gates, running: TestServer): GatedApp & Closable {
  return {
    hub,
    server: running.server,
    url: running.url,
    reached: (id) => gates.reached(id),
    close: async () => {
      await hub.close({ timeout: 500 });
      await running.close();
    },
  };
}

interface Closable {
  close(): Promise<void>;
}

const nodeHttp: GatedHarness = {
  name: 'node:http',
  async start(route, options) {
    const gates = new Gates();
    const hub = createHub(options);
    const server = createServer((_req, res) => res.writeHead(404).end());
    const context = (req: IncomingMessage) =>
      gates.check(req).then((verdict) => {
        if (verdict === 'deny') throw upgradeRefusal(401);
        return {};
      });
    hub.attach(server, { '/ws/gated': { route, context }, '/ws/open': route });
    return toGatedApp(hub, gates, await listenForTest(server));
  },
};

const expressApp: GatedHarness = {
  name: 'express',
  async start(route, options) {
    const gates = new Gates();
    const app = express();
    const lane = expressLane(app, options);
    const auth = (req: Request, res: Response, next: NextFunction): void => {
      void gates.check(req).then((verdict) => (verdict === 'deny' ? res.sendStatus(401) : next()));
    };
    app.get('/ws/gated', auth, lane.upgrade(route as AnyRoute));
    app.get('/ws/open', lane.upgrade(route as AnyRoute));
    const server = createServer(app);
    lane.attach(server);
    return toGatedApp(lane.hub, gates, await listenForTest(server));
  },
};

const koaApp: GatedHarness = {
  name: 'koa',
  async start(route, options) {
    const gates = new Gates();
    const app = new Koa();
    const lane = koaLane(app, options);
    const auth = (ctx: Context, next: Next): Promise<void> =>
      gates.check(ctx.req).then((verdict) => {
        if (verdict === 'deny') ctx.status = 401;
        else return next();
      });
    const router = new Router();
    router.get('/ws/gated', auth, lane.upgrade(route as AnyRoute));
    router.get('/ws/open', lane.upgrade(route as AnyRoute));
    app.use(router.routes());
    // Koa logs every error it answers with 500 unless the app listens for them.
    app.on('error', () => {});
    const server = createServer(app.callback());
    lane.attach(server);
    return toGatedApp(lane.hub, gates, await listenForTest(server));
  },
};

const honoApp: GatedHarness = {
  name: 'hono',
  async start(route, options) {
    const gates = new Gates();
    const app = new Hono<{ Bindings: { incoming: IncomingMessage } }>();
    const { upgradeWebSocket, injectWebSocket, hub } = honoLane({ app, ...options });
    const auth: MiddlewareHandler<{ Bindings: { incoming: IncomingMessage } }> = (c, next) =>
      gates.check(c.env.incoming).then(async (verdict) => {
        if (verdict === 'deny') return c.text('Unauthorized', 401);
        await next();
      });
    app.get('/ws/gated', auth, upgradeWebSocket(route as AnyRoute));
    app.get('/ws/open', upgradeWebSocket(route as AnyRoute));
    // Hono's default 500, without its console.error of the error.
    app.onError((_error, c) => c.text('Internal Server Error', 500));
    const server = createAdaptorServer({ fetch: app.fetch }) as Server;
    injectWebSocket(server);
    return toGatedApp(hub, gates, await listenForTest(server));
  },
};

/** The four ways wslane is mounted, each with its framework's own async auth middleware. */
export const gatedHarnesses: readonly GatedHarness[] = [nodeHttp, expressApp, koaApp, honoApp];

/**
 * Starts gated apps of `harness` for one `describe` and closes them after each test, checking
 * that nothing is left: no channel, no pending upgrade, no hub timer, no open connection.
 */
export function useGatedApps(
  harness: GatedHarness,
): (...args: Parameters<GatedHarness['start']>) => Promise<GatedApp> {
  const running: (GatedApp & Closable)[] = [];
  afterEach(async () => {
    const apps = running.splice(0);
    await Promise.all(apps.map((app) => app.close()));
    for (const app of apps) {
      expect(app.hub.stats()).toMatchObject({ active: 0, pending: 0, timers: 0 });
      expect(await connectionsOf(app.server)).toBe(0);
    }
  });
  return async (route, options) => {
    const app = (await harness.start(route, options)) as GatedApp & Closable;
    running.push(app);
    return app;
  };
}

/** Open TCP connections of a server (upgraded ones included). */
export function connectionsOf(server: Server): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}
