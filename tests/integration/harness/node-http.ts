import { createServer, type IncomingMessage } from 'node:http';
import { createHub, type Hub, upgradeRefusal } from '@wslane/core';
import { listenForTest } from '@wslane/core/testing';
import { AUTH, type ConformanceContext, createConformanceRoutes } from '../conformance-routes.js';
import { toConformanceServer } from './conformance-server.js';
import type { Harness } from './harness.js';

/** The core's own attach on plain node:http: auth and context through route bindings. */
export const nodeHttpHarness: Harness = {
  name: 'node:http',
  async start(options, serverOptions = {}) {
    let hub: Hub | undefined;
    const routes = createConformanceRoutes(() => hub as Hub);
    hub = createHub(options);
    const server = createServer(serverOptions, (req, res) => {
      if (req.url === '/health') res.writeHead(200).end('ok');
      else res.writeHead(404).end();
    });
    const context = (req: IncomingMessage) => contextOf(req, {});
    hub.attach(server, {
      '/ws/echo': { route: routes['/ws/echo'], context },
      '/ws/json': { route: routes['/ws/json'], context },
      '/ws/lines': { route: routes['/ws/lines'], context },
      '/ws/whoami': { route: routes['/ws/whoami'], context: authenticate },
      // Plain node:http has no router: each room the suite uses is its own path.
      '/ws/rooms/lobby': {
        route: routes['/ws/rooms/:room'],
        context: (r) => contextOf(r, { room: 'lobby' }),
      },
      '/ws/rooms/other': {
        route: routes['/ws/rooms/:room'],
        context: (r) => contextOf(r, { room: 'other' }),
      },
      '/ws/slow-open': { route: routes['/ws/slow-open'], context },
      '/ws/fail': { route: routes['/ws/fail'], context },
      '/ws/keyed': { route: routes['/ws/keyed'], context },
      '/ws/keyed-refuse': { route: routes['/ws/keyed-refuse'], context },
      '/ws/idle': { route: routes['/ws/idle'], context },
      '/ws/proto': { route: routes['/ws/proto'], context },
    });
    return toConformanceServer(hub, await listenForTest(server));
  },
};

function contextOf(req: IncomingMessage, params: Record<string, string>): ConformanceContext {
  const query = Object.fromEntries(new URL(req.url ?? '/', 'http://x').searchParams);
  return { params, query };
}

function authenticate(
  req: IncomingMessage,
  headers: Record<string, string | string[]>,
): ConformanceContext {
  const token = req.headers.authorization;
  if (token === AUTH.forbiddenToken) throw upgradeRefusal(403);
  if (token !== AUTH.goodToken) throw upgradeRefusal(401, { 'WWW-Authenticate': 'Bearer' });
  headers['Set-Cookie'] = AUTH.cookie;
  return { ...contextOf(req, {}), user: AUTH.user };
}
