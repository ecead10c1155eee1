import type { IncomingMessage, ServerOptions } from 'node:http';
import type { ServerType } from '@hono/node-server';
import type { Hub, HubOptions, Route } from '@wslane/core';
import type { TestServer } from '@wslane/core/testing';
import type { Context, MiddlewareHandler } from 'hono';
import type { HonoWebSocketEvents, UpgradeEventsOptions } from './events-route.js';

/** `c.env` of an upgrade request: `c.env.incoming` is Node's request, as with @hono/node-server. */
export interface UpgradeBindings {
  readonly incoming: IncomingMessage;
}

/** What wslane needs of a Hono app: its `fetch`. */
export interface FetchApp {
  fetch(request: Request, env: UpgradeBindings): Response | Promise<Response>;
}

/** Options of {@link wslane}: the app, plus every hub option of `@wslane/core`. */
export type WslaneHonoOptions = HubOptions & {
  /** The Hono app whose routes and middleware run on upgrade requests. */
  readonly app: FetchApp;
};

/** Options of the route form of `upgradeWebSocket`. */
export interface UpgradeRouteOptions<TContext> {
  /**
   * The channel's context, from the Hono context once the middleware before it ran (user,
   * params, query). Throw (e.g. an `HTTPException`) to refuse the upgrade with that response.
   * @default () => ({})
   */
  readonly context?: (c: Context) => TContext | Promise<TContext>;
}

/** The middleware `upgradeWebSocket` returns; typed like Hono's own for its RPC client. */
// biome-ignore lint/suspicious/noExplicitAny: mountable on an app of any Env, like Hono's own helper.
export type WebSocketMiddleware = MiddlewareHandler<any, string, { outputFormat: 'ws' }>;

/** `upgradeWebSocket`: hono/ws-style events, or a wslane route (rooms, codecs, session keys). */
export interface WslaneUpgradeWebSocket {
  (
    createEvents: (c: Context) => HonoWebSocketEvents | Promise<HonoWebSocketEvents>,
    options?: UpgradeEventsOptions,
  ): WebSocketMiddleware;
  <TContext>(
    // biome-ignore lint/suspicious/noExplicitAny: any message types; the context type is checked.
    route: Route<any, any, TContext>,
    options?: UpgradeRouteOptions<TContext>,
  ): WebSocketMiddleware;
}

/** What {@link wslane} returns. */
export interface WslaneHono {
  /** Middleware that takes an upgrade request on its path; plain HTTP requests pass through. */
  readonly upgradeWebSocket: WslaneUpgradeWebSocket;
  /** Serves upgrades of `server` through the app; returns a function that detaches it. */
  readonly injectWebSocket: (server: ServerType) => () => void;
  /** The core hub: channels, rooms, broadcast, stats, `close()`. */
  readonly hub: Hub;
  /** The app on 127.0.0.1, a free port, upgrades injected: for tests. */
  readonly testServer: (serverOptions?: ServerOptions) => Promise<TestServer>;
}
