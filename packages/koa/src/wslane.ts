import { createServer, type Server, type ServerOptions } from 'node:http';
import { createHub, type Hub, type HubOptions, listenOn, type Route } from '@wslane/core';
import type { TestServer } from '@wslane/core/testing';
import type Koa from 'koa';
import type { Middleware } from 'koa';
import { KoaUpgrades } from './koa-upgrades.js';
import type {
  DefaultUpgradeContext,
  UpgradeFunction,
  UpgradeOptions,
  UpgradeOptionsWithContext,
} from './upgrade-options.js';

/** wslane mounted on a Koa app: route middleware, `ctx.ws`, and the server plumbing. */
export interface KoaLane {
  /** The core hub: rooms, broadcast, stats, `close()`. */
  readonly hub: Hub;
  /**
   * Middleware that opens a channel on `route` for an upgrade request (put it after your auth
   * middleware) and passes plain HTTP requests on with `next()`.
   *
   * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when the route's `options` are invalid.
   */
  upgrade<TIn, TOut, TContext>(
    route: Route<TIn, TOut, TContext>,
    options: UpgradeOptionsWithContext<TContext>,
  ): Middleware;
  upgrade<TIn, TOut>(
    route: Route<TIn, TOut, DefaultUpgradeContext>,
    options?: UpgradeOptions,
  ): Middleware;
  /** Middleware that sets `ctx.ws` for handlers that open channels themselves. */
  middleware(): Middleware;
  /** Runs upgrade requests on `server` through the app. Returns a function that detaches it. */
  attach(server: Server): () => void;
  /** `http.createServer(app.callback())`, attached and listening. */
  listen(port?: number, host?: string): Promise<Server>;
  /**
   * The app on a new server at 127.0.0.1 and a free port, for your own tests. Its `close()`
   * closes that server and its sockets; the hub stays open for the next `testServer()`.
   */
  testServer(serverOptions?: ServerOptions): Promise<TestServer>;
}

/**
 * Mounts wslane on a Koa app: upgrade requests run through the app's middleware (routers, auth,
 * sessions), and `lane.upgrade(route)` turns the matching ones into channels.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when `options` is invalid.
 * @example
 * ```ts
 * const app = new Koa();
 * const router = new Router();
 * const lane = wslane(app, { timeouts: { idle: '5m' } });
 * router.get('/ws/echo', lane.upgrade(createRoute({ onMessage: (m, ch) => ch.send(m) })));
 * router.get('/ws/chat', requireUser, lane.upgrade(chat, {
 *   context: (ctx) => ({ user: ctx.state.user }),
 * }));
 * app.use(router.routes());
 * await lane.listen(3000);
 * ```
 */
export function wslane(app: Koa, options: HubOptions = {}): KoaLane {
  const hub = createHub(options);
  const upgrades = new KoaUpgrades(app, hub);

  function attach(server: Server): () => void {
    // What app.callback() does: without a listener, ctx.onerror's emit would throw.
    if (app.listenerCount('error') === 0) app.on('error', app.onerror);
    return hub.onUpgrade(server, (pending) => void upgrades.run(pending, server));
  }

  const lane: KoaLane = {
    hub,
    upgrade: (route: Route<unknown, unknown, unknown>, upgradeOptions = {}): Middleware => {
      // A route's invalid overrides fail where it is mounted, not at its first connection.
      hub.routeConfig(route);
      return async (ctx, next) => {
        if (upgrades.isWaiting(ctx)) await upgrades.open(ctx, route, upgradeOptions);
        else await next();
      };
    },
    middleware: (): Middleware => (ctx, next) => {
      ctx.ws = upgrades.isWaiting(ctx)
        ? (((route: Route<unknown, unknown, unknown>, upgradeOptions = {}) =>
            upgrades.open(ctx, route, upgradeOptions)) as UpgradeFunction)
        : undefined;
      return next();
    },
    attach,
    listen: (port, host) => {
      const server = createServer(app.callback());
      attach(server);
      return listenOn(server, port, host);
    },
    testServer: async (serverOptions = {}) => {
      // Loaded on demand: an app that never calls this never loads the test client.
      const { listenForTest } = await import('@wslane/core/testing');
      return listenForTest(createServer(serverOptions, app.callback()), attach);
    },
  };
  return lane;
}
