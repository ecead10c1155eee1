import type { Server, ServerOptions } from 'node:http';
import { createAdaptorServer, type HttpBindings, type ServerType } from '@hono/node-server';
import {
  ConfigError,
  createHub,
  EMPTY_CONTEXT,
  type PendingUpgrade,
  RequestSlot,
  type Route,
} from '@wslane/core';
import type { TestServer } from '@wslane/core/testing';
import type { Context } from 'hono';
import {
  createEventsRoute,
  type EventsConnection,
  eventsConnection,
  type HonoWebSocketEvents,
} from './events-route.js';
import { toFetchRequest, toUpgradeHeaders, writeFetchResponse } from './fetch-interop.js';
import type {
  UpgradeRouteOptions,
  WebSocketMiddleware,
  WslaneHono,
  WslaneHonoOptions,
  WslaneUpgradeWebSocket,
} from './upgrade-options.js';

// biome-ignore lint/suspicious/noExplicitAny: a claim holds a route of any message types.
type AnyRoute = Route<any, any, any>;

interface UpgradeSlot {
  claim: { readonly route: AnyRoute; readonly context: unknown } | undefined;
}

/** Status of the placeholder response a claiming middleware returns. */
const CLAIMED_STATUS = 200;

/**
 * wslane for Hono on @hono/node-server: upgrade requests run through the app (routing, auth,
 * cookies), and a route that mounts `upgradeWebSocket` gets a channel with an ordered, bounded lane.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID` when `app` or the hub options are invalid.
 * @example
 * ```ts
 * const app = new Hono();
 * const { upgradeWebSocket, injectWebSocket } = wslane({ app, timeouts: { idle: '60s' } });
 * app.get('/ws/echo', upgradeWebSocket(() => ({ onMessage: (evt, ws) => ws.send(String(evt.data)) })));
 * injectWebSocket(serve({ fetch: app.fetch, port: 3000 }));
 * ```
 */
export function wslane(options: WslaneHonoOptions): WslaneHono {
  const { app, ...config } = options;
  if (typeof app?.fetch !== 'function') {
    throw new ConfigError([{ path: 'app', message: 'expected a Hono app (with a fetch method)' }]);
  }
  const hub = createHub(config);
  // On the request, not in a WeakMap: a claim's context may reach the request (through `c`).
  const slots = new RequestSlot<UpgradeSlot>('wslane.upgradeSlot');

  function claimWith(route: AnyRoute, contextOf: (c: Context) => unknown): WebSocketMiddleware {
    hub.routeConfig(route);
    return async (c, next) => {
      const slot = slots.get(c.req.raw);
      if (slot === undefined) return next();
      const context = await contextOf(c);
      slot.claim = { route, context };
      // Carries the headers middleware set (c.header, cookies) to the injector, for the 101.
      return c.body(null, CLAIMED_STATUS);
    };
  }

  const upgradeWebSocket = ((source: unknown, mountOptions?: object): WebSocketMiddleware => {
    if (typeof source !== 'function') {
      const { context } = (mountOptions ?? {}) as UpgradeRouteOptions<unknown>;
      return claimWith(source as AnyRoute, context ?? emptyContext);
    }
    const createEvents = source as (c: Context) => Promise<HonoWebSocketEvents>;
    return claimWith(
      createEventsRoute(mountOptions),
      async (c): Promise<EventsConnection> => eventsConnection(await createEvents(c), c.req.url),
    );
  }) as WslaneUpgradeWebSocket;

  async function serveUpgrade(pending: PendingUpgrade, server: Server): Promise<void> {
    const request = toFetchRequest(pending.req);
    if (request === undefined) {
      pending.refuseWith('WSLANE_UPGRADE_INVALID');
      return;
    }
    const slot: UpgradeSlot = { claim: undefined };
    slots.set(request, slot);
    try {
      const response = await app.fetch(request, { incoming: pending.req });
      if (!pending.isAnswerable) return;
      const { claim } = slot;
      if (claim !== undefined && response.status === CLAIMED_STATUS) {
        await pending.accept(claim.route, claim.context, toUpgradeHeaders(response.headers));
      } else if (claim === undefined && response.status === 404) {
        // No route here took WebSockets (Hono's notFound): another 'upgrade' listener may.
        pending.release();
        hub.unclaimedUpgrade(server, pending.socket);
      } else {
        const body = Buffer.from(await response.arrayBuffer());
        if (pending.isAnswerable) writeFetchResponse(pending.createResponse(), response, body);
      }
    } catch (error) {
      pending.refuseFor(error);
    }
  }

  const injectWebSocket = (server: ServerType): (() => void) =>
    hub.onUpgrade(server as Server, (pending, target) => {
      void serveUpgrade(pending, target);
    });

  async function testServer(serverOptions: ServerOptions = {}): Promise<TestServer> {
    const { listenForTest } = await import('@wslane/core/testing');
    // createAdaptorServer without createServer is node:http, so env is always HttpBindings.
    const fetch = (request: Request, env: unknown) => app.fetch(request, env as HttpBindings);
    const server = createAdaptorServer({ fetch, serverOptions }) as Server;
    // Closes this server and its sockets, not the hub: an app's one wslane() serves many tests.
    return listenForTest(server, injectWebSocket);
  }

  return { upgradeWebSocket, injectWebSocket, hub, testServer };
}

function emptyContext(): object {
  return EMPTY_CONTEXT;
}
