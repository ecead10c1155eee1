import { createServer } from 'node:http';
import { createRoute, type HubOptions, type RawMessage, upgradeRefusal } from '@wslane/core';
import { listenForTest, type TestServer } from '@wslane/core/testing';
import { type ExpressLane, type UpgradeContext, wslane } from '@wslane/express';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { describe, expect, it } from 'vitest';
import { httpUrl, startOtherWsServer, useLaneServers, wslaneErrorCodeOf } from './helpers.js';

const closeAfterTest = useLaneServers();

const echo = createRoute({ name: 'echo', onMessage: (message, channel) => channel.send(message) });
const describeContext = createRoute<RawMessage, RawMessage, UpgradeContext>({
  name: 'context',
  onOpen: (channel) => channel.send(JSON.stringify(channel.context)),
});

/** An app built by `build`, on a server listening on a free port. */
async function start(
  build: (app: express.Express, lane: ExpressLane) => void,
): Promise<{ app: express.Express; lane: ExpressLane; server: TestServer }> {
  const app = express();
  const lane = wslane(app);
  build(app, lane);
  const http = createServer(app);
  lane.attach(http);
  const server = await listenForTest(http);
  closeAfterTest(lane.hub, server);
  return { app, lane, server };
}

describe('@wslane/express', () => {
  it("upgrades on a Router mounted under a prefix, with the router's params, query and locals", async () => {
    const { server } = await start((app, lane) => {
      const router = express.Router();
      router.use((_req, res, next) => {
        res.locals.user = 'alice';
        next();
      });
      router.get('/rooms/:room', lane.upgrade(describeContext));
      app.use('/ws', router);
    });
    const client = await server.connect('/ws/rooms/lobby?page=2');
    expect(await client.nextJson()).toEqual({
      params: { room: 'lobby' },
      query: { page: '2' },
      locals: { user: 'alice' },
    });
    await client.close();
    expect((await server.expectRefusal('/rooms/lobby')).status).toBe(404);
  });

  it("leaves Express's own request and response state to Express (routing under a mounted Router)", async () => {
    const seen: unknown[] = [];
    const { server } = await start((app, lane) => {
      const router = express.Router();
      router.get(
        '/rooms/:room',
        (req, res, next) => {
          seen.push({
            baseUrl: req.baseUrl,
            originalUrl: req.originalUrl,
            url: req.url,
            params: { ...req.params },
            route: req.route?.path,
            sameRes: req.res === res && res.req === req,
            locals: Object.getPrototypeOf(res.locals),
          });
          next();
        },
        lane.upgrade(echo),
      );
      app.use('/ws', router);
    });
    const client = await server.connect('/ws/rooms/lobby?page=2');
    await client.close();
    expect(seen).toEqual([
      {
        baseUrl: '/ws',
        originalUrl: '/ws/rooms/lobby?page=2',
        url: '/rooms/lobby?page=2',
        params: { room: 'lobby' },
        route: '/rooms/:room',
        sameRes: true,
        locals: null,
      },
    ]);
  });

  it('keeps copies, and one shared frozen context for upgrades with no params, query or locals', async () => {
    const contexts: UpgradeContext[] = [];
    const keep = createRoute<RawMessage, RawMessage, UpgradeContext>({
      name: 'keep',
      onOpen: (channel) => {
        contexts.push(channel.context);
        return channel.send('open');
      },
    });
    const { server } = await start((app, lane) => {
      app.get('/ws/plain', lane.upgrade(keep));
      app.get('/ws/rooms/:room', lane.upgrade(keep));
    });
    const clients = [
      await server.connect('/ws/plain'),
      await server.connect('/ws/plain'),
      await server.connect('/ws/rooms/blue?x=1'),
    ];
    for (const client of clients) expect(await client.next()).toBe('open');
    const [first, second, withData] = contexts;
    expect(first).toBe(second);
    expect(first).toEqual({ params: {}, query: {}, locals: {} });
    expect(Object.isFrozen(first) && Object.isFrozen(first?.locals)).toBe(true);
    expect(withData).toEqual({ params: { room: 'blue' }, query: { x: '1' }, locals: {} });
    expect(withData?.locals).toBe(first?.locals);
    await Promise.all(clients.map((client) => client.close()));
  });

  it('answers with the status and headers of an error a middleware throws', async () => {
    const denied = Object.assign(new Error('denied'), {
      status: 401,
      headers: { 'WWW-Authenticate': 'Basic realm="ws"' },
    });
    const { lane, server } = await start((app, lane) => {
      const deny: RequestHandler = () => {
        throw denied;
      };
      app.get('/ws/denied', deny, lane.upgrade(echo));
    });
    const refusal = await server.expectRefusal('/ws/denied');
    expect(refusal.status).toBe(401);
    expect(refusal.headers['www-authenticate']).toBe('Basic realm="ws"');
    expect(lane.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('answers 500 for an error without a status, and never sends its headers', async () => {
    const { server } = await start((app, lane) => {
      const fail: RequestHandler = (_req, _res, next) => {
        next(Object.assign(new Error('bug'), { headers: { 'X-Leak': 'yes' } }));
      };
      app.get('/ws/fail', fail, lane.upgrade(echo));
    });
    const refusal = await server.expectRefusal('/ws/fail');
    expect(refusal.status).toBe(500);
    expect(refusal.headers['x-leak']).toBeUndefined();
  });

  it('answers with the refusal a context function rejects with', async () => {
    const { server } = await start((app, lane) => {
      const context = async (): Promise<{ user: string }> => {
        throw upgradeRefusal(429, { 'Retry-After': '7' });
      };
      app.get('/ws/busy', lane.upgrade(echo, { context }));
    });
    const refusal = await server.expectRefusal('/ws/busy');
    expect(refusal.status).toBe(429);
    expect(refusal.headers['retry-after']).toBe('7');
  });

  it("lets the app's own error middleware answer a failed upgrade", async () => {
    const { server } = await start((app, lane) => {
      const fail: RequestHandler = (_req, _res, next) => next(new Error('bug'));
      const teapot: ErrorRequestHandler = (_error, _req, res, _next) => {
        res.status(418).send('short and stout');
      };
      app.get('/ws/fail', fail, lane.upgrade(echo));
      app.use(teapot);
    });
    expect((await server.expectRefusal('/ws/fail')).status).toBe(418);
  });

  it('answers an upgrade to a plain HTTP route with that route’s response', async () => {
    const { server } = await start((app) => {
      app.get('/page', (_req, res) => {
        res.status(200).send('a page');
      });
    });
    expect((await server.expectRefusal('/page')).status).toBe(200);
  });

  it('passes a plain HTTP GET of an upgrade path on: 404, or the next handler', async () => {
    const { server } = await start((app, lane) => {
      app.get('/ws/echo', lane.upgrade(echo));
      app.get('/ws/hint', lane.upgrade(echo), (_req, res) => {
        res.status(426).send('use a WebSocket');
      });
    });
    expect((await fetch(httpUrl(server, '/ws/echo'))).status).toBe(404);
    const hint = await fetch(httpUrl(server, '/ws/hint'));
    expect(hint.status).toBe(426);
    expect(await hint.text()).toBe('use a WebSocket');
    const client = await server.connect('/ws/hint');
    client.ws.send('still upgrades');
    expect(await client.next()).toBe('still upgrades');
    await client.close();
  });

  it('sends headers middleware set with the 101, except the ones the handshake owns', async () => {
    const { server } = await start((app, lane) => {
      app.get(
        '/ws/echo',
        (_req, res, next) => {
          res.set({ 'X-Trace': 'abc', Connection: 'keep-alive', 'Content-Length': '3' });
          res.set('Sec-WebSocket-Protocol', 'bogus');
          next();
        },
        lane.upgrade(echo),
      );
    });
    const client = await server.connect('/ws/echo');
    expect(client.upgradeHeaders).toMatchObject({ 'x-trace': 'abc', connection: 'Upgrade' });
    expect(client.upgradeHeaders['content-length']).toBeUndefined();
    expect(client.ws.protocol).toBe('');
    await client.close();
  });

  it('serves its app on lane.testServer(); close() ends that server, and the hub serves the next', async () => {
    const app = express();
    const lane = wslane(app);
    app.get('/ws/echo', lane.upgrade(echo));
    const first = await lane.testServer();
    closeAfterTest(lane.hub, first);
    const client = await first.connect('/ws/echo');
    client.ws.send('hi');
    expect(await client.next()).toBe('hi');
    expect((await first.expectRefusal('/ws/nowhere')).status).toBe(404);
    await first.close();
    expect((await client.waitClosed()).code).toBe(1006);
    expect(first.server.listening).toBe(false);
    await expect.poll(() => lane.hub.stats().active).toBe(0);
    const second = await lane.testServer({ requestTimeout: 1000 });
    closeAfterTest(lane.hub, second);
    expect(second.server.requestTimeout).toBe(1000);
    const again = await second.connect('/ws/echo');
    again.ws.send('again');
    expect(await again.next()).toBe('again');
    await again.close();
  });

  it('throws ConfigError at wslane() for an invalid config, and at upgrade() for a route', () => {
    const invalid = { timeouts: { idle: 'soon' } } as unknown as HubOptions;
    expect(() => wslane(express(), invalid)).toThrow(
      expect.objectContaining({ code: 'WSLANE_CONFIG_INVALID' }),
    );
    const lane = wslane(express());
    const broken = createRoute({ options: { timeouts: { idle: 'soon' } } as never });
    expect(wslaneErrorCodeOf(() => lane.upgrade(broken))).toBe('WSLANE_CONFIG_INVALID');
  });

  it('leaves upgrades another ws server takes to it, even past an Express catch-all', async () => {
    const { lane, server } = await start((app, lane) => {
      app.get('/ws/echo', lane.upgrade(echo));
      // A catch-all answers every request Express sees: it must never see the other server's.
      app.use((_req, res) => {
        res.status(404).send('no such page');
      });
    });
    const other = await startOtherWsServer(server);
    try {
      const client = await server.connect('/ws/echo');
      await other.expectSideBySide(client);
      expect((await server.expectRefusal('/nowhere')).status).toBe(404);
      expect(lane.hub.stats().active).toBe(1);
      await client.close();
    } finally {
      await other.close();
    }
  });
});
