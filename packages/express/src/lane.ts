import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import {
  createHub,
  type Hub,
  type HubOptions,
  listenOn,
  type PendingUpgrade,
  RequestSlot,
  type Route,
} from '@wslane/core';
import type { TestServer } from '@wslane/core/testing';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { renderError } from './render-error.js';
import { toUpgradeContext, type UpgradeContext, type UpgradeOptions } from './upgrade-options.js';

// biome-ignore lint/suspicious/noExplicitAny: any message types; the context type is checked.
type AnyRoute<TContext> = Route<any, any, TContext>;

/**
 * Mounts wslane on an Express 5 app: WebSocket routes are ordinary Express routes, so routers,
 * params, auth and session middleware run on the upgrade request before the handshake, and
 * whatever they answer instead (a 401, an error) is a real HTTP response.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when `options` is invalid, listing every problem.
 * @example
 * ```ts
 * const app = express();
 * const lane = wslane(app, { timeouts: { idle: '60s' } });
 * const echo = createRoute({ onMessage: (message, channel) => channel.send(message) });
 * app.get('/ws/echo', lane.upgrade(echo));
 * app.get('/ws/chat', requireUser, lane.upgrade(chat, { context: (req, res) => res.locals }));
 * const server = await lane.listen(3000);
 * ```
 */
export function wslane(app: Express, options: HubOptions = {}): ExpressLane {
  return new ExpressLane(app, createHub(options));
}

/** What {@link wslane} returns: the hub and the Express glue around it. */
export class ExpressLane {
  /** The core hub: stats, channels and rooms, `close()`. */
  readonly hub: Hub;
  readonly #app: Express;
  /** The upgrade each request carries until a route claims it. */
  readonly #pending = new RequestSlot<PendingUpgrade>('wslane.pendingUpgrade');

  /** @internal Use {@link wslane}. */
  constructor(app: Express, hub: Hub) {
    this.#app = app;
    this.hub = hub;
  }

  /**
   * A middleware that upgrades to `route`; mount it with `app.get` or on a `Router`, after the
   * middleware that should run first (auth, sessions). Headers set on `res` so far (e.g.
   * `Set-Cookie`) go out with the 101. A plain HTTP request passes on with `next()`.
   *
   * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when the route's overrides are invalid.
   */
  upgrade(route: AnyRoute<UpgradeContext>): RequestHandler;
  /** The same, with the channel's context built by `options.context`. */
  upgrade<TContext>(
    route: AnyRoute<TContext>,
    options: UpgradeOptions<NoInfer<TContext>>,
  ): RequestHandler;
  upgrade<TContext>(route: AnyRoute<TContext>, options?: UpgradeOptions<TContext>): RequestHandler {
    this.hub.routeConfig(route);
    return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
      const pending = this.#take(req);
      if (pending === undefined) {
        next();
        return;
      }
      const context =
        options === undefined ? toUpgradeContext(req, res) : await options.context(req, res);
      await pending.accept(route, context, res.getHeaders());
    };
  }

  /**
   * Runs every upgrade request on `server` through the app. Upgrades no route claims are left to
   * the server's other 'upgrade' listeners (404 if none answers). Returns a function that detaches.
   */
  attach(server: Server): () => void {
    return this.hub.onUpgrade(server, (pending) => this.#run(server, pending));
  }

  /** Creates an HTTP server for the app, attaches to it and listens. */
  listen(port?: number, host?: string): Promise<Server> {
    const server = createServer(this.#app);
    this.attach(server);
    return listenOn(server, port, host);
  }

  /**
   * The app on a fresh server at 127.0.0.1 and a free port, for tests. Its `close()` closes that
   * server and its sockets; the hub stays open for the next `testServer()`.
   */
  async testServer(serverOptions: ServerOptions = {}): Promise<TestServer> {
    // Loaded on demand: an app that never calls this never loads the test client.
    const { listenForTest } = await import('@wslane/core/testing');
    return listenForTest(createServer(serverOptions, this.#app), (server) => this.attach(server));
  }

  #run(server: Server, pending: PendingUpgrade): void {
    const res = pending.createResponse();
    this.#pending.set(pending.req, pending);
    const done = (error?: unknown): void => this.#onUnhandled(server, pending, res, error);
    // The app's own entry (`app.handle`): it gives req and res Express's prototypes itself.
    this.#app(pending.req as Request, res as Response, done);
  }

  /** The upgrade `req` carries, claimed: a later `upgrade` middleware passes it on. */
  #take(req: IncomingMessage): PendingUpgrade | undefined {
    const pending = this.#pending.get(req);
    this.#pending.clear(req);
    return pending;
  }

  /** Express's final callback: no route upgraded the request and none answered it. */
  #onUnhandled(server: Server, pending: PendingUpgrade, res: ServerResponse, error: unknown): void {
    // Accepted, refused or timed out meanwhile; or another listener took the socket.
    if (!pending.isOpen || (!res.headersSent && !pending.isAnswerable)) {
      if (error != null) this.hub.logger.error('upgrade failed', { cause: error });
      if (pending.isOpen) pending.release();
    } else if (error != null) {
      renderError(error, res, this.hub.logger);
    } else if (!res.headersSent) {
      pending.release();
      this.hub.unclaimedUpgrade(server, pending.socket);
    }
  }
}
