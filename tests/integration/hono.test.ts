import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type IncomingHttpHeaders, request, type Server } from 'node:http';
import {
  createAdaptorServer,
  upgradeWebSocket as nodeServerUpgradeWebSocket,
} from '@hono/node-server';
import { createRoute, type HubOptions } from '@wslane/core';
import { listenForTest, type TestServer, withTimeout } from '@wslane/core/testing';
import {
  type FetchApp,
  type HonoWebSocket,
  type WebSocketCloseEvent,
  type WebSocketErrorEvent,
  type WslaneHono,
  wslane,
} from '@wslane/hono';
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { WSEvents } from 'hono/ws';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { deferred } from '../helpers/channel-probe.js';
import { httpUrl, wslaneErrorCodeOf } from './helpers.js';

type AppEnv = { Variables: { user?: string } };
type App = Hono<AppEnv>;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function start(
  build: (app: App, lane: WslaneHono) => void,
  options: HubOptions = {},
): Promise<{ lane: WslaneHono; server: TestServer }> {
  const app: App = new Hono<AppEnv>();
  const lane = wslane({ app, ...options });
  build(app, lane);
  const server = await lane.testServer();
  cleanups.push(async () => {
    await lane.hub.close({ timeout: 500 });
    await server.close();
  });
  return { lane, server };
}

/** An upgrade request the server should refuse: its status, headers and body. */
async function refusalOf(
  server: TestServer,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const req = request(httpUrl(server, path), {
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      ...headers,
    },
  });
  req.end();
  const [res] = await withTimeout(once(req, 'response'), 2000, `refusal of ${path}`);
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode, headers: res.headers, body };
}

/**
 * Handler code written for Hono's own `upgradeWebSocket` (only hono/ws types): it reports
 * what it sees, so two helpers running it can be compared.
 */
function transcriptEvents(
  log: string[],
  closed: (evt: WebSocketCloseEvent) => void,
): (c: Context) => WSEvents {
  return (c) => ({
    onOpen(evt, ws) {
      log.push(`open:${evt.type}:${ws.readyState}:${ws.url?.pathname}`);
      ws.send(`hello ${c.req.query('name')}`);
    },
    onMessage(evt, ws) {
      const { data } = evt;
      if (typeof data === 'string') ws.send(`text:${data}`);
      else
        ws.send(`${data instanceof ArrayBuffer}:${new Uint8Array(data as ArrayBuffer).join(',')}`);
    },
    onClose(evt, ws) {
      // Not wasClean: @hono/node-server leaves it false even after a clean close.
      log.push(`close:${evt.code}:${evt.reason}:${ws.readyState}`);
      closed(evt as WebSocketCloseEvent);
    },
  });
}

describe('@wslane/hono: hono/ws-style events', () => {
  it('delivers open, text and binary messages, and close with its code and reason', async () => {
    const log: string[] = [];
    const closed = deferred<WebSocketCloseEvent>();
    const { server } = await start((app, { upgradeWebSocket }) => {
      app.get('/ws/t', upgradeWebSocket(transcriptEvents(log, closed.resolve)));
    });
    const client = await server.connect('/ws/t?name=ann');
    expect(await client.next()).toBe('hello ann');
    client.ws.send('hi');
    client.ws.send(Buffer.from([1, 2, 3]));
    expect(await client.take(2)).toEqual(['text:hi', 'true:1,2,3']);
    client.ws.close(4001, 'bye');
    const event = await withTimeout(closed.promise, 2000, 'onClose');
    expect(log).toEqual(['open:open:1:/ws/t', 'close:4001:bye:3']);
    expect({ type: event.type, wasClean: event.wasClean }).toEqual({
      type: 'close',
      wasClean: true,
    });
  });

  it('runs the same handler code as on Hono’s own node-server helper, with the same result', async () => {
    async function transcript(
      mount: (app: Hono, events: (c: Context) => WSEvents) => Server,
    ): Promise<string[]> {
      const log: string[] = [];
      const closed = deferred<WebSocketCloseEvent>();
      const app = new Hono();
      const running = await listenForTest(mount(app, transcriptEvents(log, closed.resolve)));
      cleanups.push(() => running.close());
      const client = await running.connect('/ws/t?name=bo');
      client.ws.send('x');
      client.ws.send(Buffer.from([9]));
      log.push(...((await client.take(3)) as string[]));
      client.ws.close(4002, 'done');
      await withTimeout(closed.promise, 2000, 'onClose');
      return log;
    }
    const honos = await transcript((app, events) => {
      const wss = new WebSocketServer({ noServer: true });
      cleanups.push(async () => wss.close());
      app.get('/ws/t', nodeServerUpgradeWebSocket(events));
      return createAdaptorServer({ fetch: app.fetch, websocket: { server: wss } }) as Server;
    });
    const ours = await transcript((app, events) => {
      const lane = wslane({ app });
      cleanups.push(() => lane.hub.close({ timeout: 500 }));
      app.get('/ws/t', lane.upgradeWebSocket(events));
      const server = createAdaptorServer({ fetch: app.fetch }) as Server;
      lane.injectWebSocket(server);
      return server;
    });
    expect(ours).toEqual(honos);
    expect(ours).toContain('true:9');
  });

  it('sends everything ws.send queued in order through the lane, mixed with ws.raw.send', async () => {
    const { server } = await start(
      (app, { upgradeWebSocket }) => {
        app.get(
          '/ws/burst',
          upgradeWebSocket(() => ({
            async onOpen(_evt, ws: HonoWebSocket) {
              for (let i = 0; i < 100; i++) ws.send(`${i}:${'q'.repeat(400)}`);
              await ws.raw?.send('100:awaited');
              ws.send('101:last');
            },
          })),
        );
      },
      { backpressure: { highWaterMark: 1024 } },
    );
    const client = await server.connect('/ws/burst');
    const received = await client.take(102);
    expect(received.map((m) => Number(String(m).split(':')[0]))).toEqual([...Array(102).keys()]);
    await client.close();
  });

  it('closes from ws.close(4000, "x"): the peer and onClose see 4000 and "x"', async () => {
    const closed = deferred<WebSocketCloseEvent>();
    const states: number[] = [];
    const { server } = await start((app, { upgradeWebSocket }) => {
      app.get(
        '/ws/closer',
        upgradeWebSocket(() => ({
          onMessage(_evt, ws) {
            ws.close(4000, 'x');
            states.push(ws.readyState);
            ws.send('dropped after close');
          },
          onClose: (evt) => closed.resolve(evt as WebSocketCloseEvent),
        })),
      );
    });
    const client = await server.connect('/ws/closer');
    client.ws.send('close please');
    expect(await client.waitClosed()).toEqual({ code: 4000, reason: 'x' });
    const event = await withTimeout(closed.promise, 2000, 'onClose');
    expect({ code: event.code, reason: event.reason, type: event.type }).toEqual({
      code: 4000,
      reason: 'x',
      type: 'close',
    });
    expect(states).toEqual([2]);
    expect(client.buffered).toBe(0);
  });

  it('reports a throwing onMessage to onError, closes with 1011 and keeps serving', async () => {
    const errors: WebSocketErrorEvent[] = [];
    const closed = deferred<number>();
    const { server } = await start((app, { upgradeWebSocket }) => {
      app.get(
        '/ws/bug',
        upgradeWebSocket(() => ({
          onMessage(evt, ws) {
            if (evt.data === 'boom') throw new Error('handler bug');
            ws.send(evt.data as string);
          },
          onError: (evt) => {
            errors.push(evt as WebSocketErrorEvent);
          },
          onClose: (evt) => closed.resolve(evt.code),
        })),
      );
    });
    const failing = await server.connect('/ws/bug');
    const healthy = await server.connect('/ws/bug');
    failing.ws.send('boom');
    expect((await failing.waitClosed()).code).toBe(1011);
    expect(await withTimeout(closed.promise, 2000, 'onClose')).toBe(1011);
    expect(errors.map((evt) => [evt.type, evt.error.code])).toEqual([
      ['error', 'WSLANE_HANDLER_FAILED'],
    ]);
    healthy.ws.send('still here');
    expect(await healthy.next()).toBe('still here');
    await healthy.close();
  });
});

describe('@wslane/hono: upgrades through the Hono app', () => {
  it('answers a middleware refusal with its status, headers, every Set-Cookie and body', async () => {
    const { server, lane } = await start((app, { upgradeWebSocket }) => {
      const echo = createRoute({ onMessage: (m, ch) => ch.send(m) });
      app.get(
        '/ws/guarded',
        (c) => {
          c.header('Set-Cookie', 'a=1; Path=/', { append: true });
          c.header('Set-Cookie', 'b=2; Path=/', { append: true });
          return c.text('no', 401, { 'WWW-Authenticate': 'Bearer' });
        },
        upgradeWebSocket(echo),
      );
    });
    const refusal = await refusalOf(server, '/ws/guarded');
    expect(refusal).toMatchObject({ status: 401, body: 'no' });
    expect(refusal.headers['www-authenticate']).toBe('Bearer');
    expect(refusal.headers['set-cookie']).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    expect(refusal.headers.connection).toBe('close');
    expect(lane.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('answers with the response of an HTTPException a context function throws', async () => {
    const { server } = await start((app, { upgradeWebSocket }) => {
      const route = createRoute({});
      const res = new Response('pay first', { status: 402, headers: { 'X-Reason': 'quota' } });
      app.get(
        '/ws/paid',
        upgradeWebSocket(route, {
          context: () => {
            throw new HTTPException(402, { res });
          },
        }),
      );
    });
    const refusal = await refusalOf(server, '/ws/paid');
    expect(refusal).toMatchObject({ status: 402, body: 'pay first' });
    expect(refusal.headers['x-reason']).toBe('quota');
  });

  it("answers an error in middleware with the app's onError response", async () => {
    const { server } = await start((app, { upgradeWebSocket }) => {
      app.onError((_error, c) => c.text('sorry', 503));
      app.get(
        '/ws/broken',
        () => {
          throw new Error('middleware bug');
        },
        upgradeWebSocket(createRoute({})),
      );
    });
    expect(await refusalOf(server, '/ws/broken')).toMatchObject({ status: 503, body: 'sorry' });
  });

  it('sends headers set before and after it by middleware with the 101, and c.env.incoming', async () => {
    const { server } = await start((app, { upgradeWebSocket }) => {
      const whoami = createRoute<string, string, { ip: string }>({
        onOpen: (ch) => ch.send(ch.context.ip),
      });
      app.use(async (c, next) => {
        await next();
        c.header('X-After', 'late');
      });
      app.get(
        '/ws/me',
        async (c, next) => {
          c.header('Set-Cookie', 'a=1', { append: true });
          c.header('Set-Cookie', 'b=2', { append: true });
          c.header('X-Before', 'early');
          await next();
        },
        upgradeWebSocket(whoami, {
          context: (
            c: Context<{ Bindings: { incoming: { socket: { remoteAddress: string } } } }>,
          ) => ({
            ip: c.env.incoming.socket.remoteAddress,
          }),
        }),
      );
    });
    const client = await server.connect('/ws/me');
    expect(client.upgradeHeaders).toMatchObject({
      'set-cookie': ['a=1', 'b=2'],
      'x-before': 'early',
      'x-after': 'late',
      connection: 'Upgrade',
    });
    expect(await client.next()).toBe('127.0.0.1');
    await client.close();
  });

  it('passes a plain HTTP GET of an upgrade path on, and runs no events factory for it', async () => {
    let factories = 0;
    const { server } = await start((app, { upgradeWebSocket }) => {
      const events = upgradeWebSocket(() => {
        factories++;
        return { onMessage: (evt, ws) => ws.send(evt.data as string) };
      });
      app.get('/ws/echo', events);
      app.get('/ws/hint', events, (c) => c.text('use a WebSocket', 426));
    });
    expect((await fetch(httpUrl(server, '/ws/echo'))).status).toBe(404);
    const hint = await fetch(httpUrl(server, '/ws/hint'));
    expect({ status: hint.status, text: await hint.text() }).toEqual({
      status: 426,
      text: 'use a WebSocket',
    });
    expect(factories).toBe(0);
    const client = await server.connect('/ws/hint');
    client.ws.send('still upgrades');
    expect(await client.next()).toBe('still upgrades');
    expect(factories).toBe(1);
    await client.close();
  });

  it('upgrades on a sub-app with its params, and answers an upgrade of a page with the page', async () => {
    const { server } = await start((app, { upgradeWebSocket }) => {
      const rooms = new Hono();
      const room = createRoute<string, string, { room: string }>({
        onOpen: (ch) => ch.send(ch.context.room),
      });
      rooms.get(
        '/:room',
        upgradeWebSocket(room, { context: (c) => ({ room: c.req.param('room') ?? '' }) }),
      );
      app.route('/ws/rooms', rooms);
      app.get('/page', (c) => c.html('<p>a page</p>'));
    });
    const client = await server.connect('/ws/rooms/lobby');
    expect(await client.next()).toBe('lobby');
    await client.close();
    expect(await refusalOf(server, '/page')).toMatchObject({
      status: 200,
      body: '<p>a page</p>',
    });
  });
});

describe('@wslane/hono: setup', () => {
  it('serves the app on testServer(), whose close() closes its sockets and leaves the hub open', async () => {
    const app = new Hono();
    const lane = wslane({ app });
    cleanups.push(() => lane.hub.close({ timeout: 500 }));
    app.get(
      '/ws/echo',
      lane.upgradeWebSocket(() => ({ onMessage: (e, ws) => ws.send(e.data as string) })),
    );
    app.get('/health', (c) => c.text('ok'));
    for (let round = 0; round < 2; round++) {
      const server = await lane.testServer();
      const client = await server.connect('/ws/echo');
      client.ws.send(`round ${round}`);
      expect(await client.next()).toBe(`round ${round}`);
      expect(await (await fetch(httpUrl(server, '/health'))).text()).toBe('ok');
      await server.close();
      await client.waitClosed();
      expect(server.server.listening).toBe(false);
      await expect.poll(() => lane.hub.stats().active).toBe(0);
    }
    expect(lane.hub.state).toBe('open');
  });

  it('throws ConfigError for invalid hub options, a missing app and invalid route options', () => {
    const app = new Hono();
    const soon = { timeouts: { idle: 'soon' } } as unknown as HubOptions;
    expect(wslaneErrorCodeOf(() => wslane({ app, ...soon }))).toBe('WSLANE_CONFIG_INVALID');
    expect(wslaneErrorCodeOf(() => wslane({} as { app: FetchApp }))).toBe('WSLANE_CONFIG_INVALID');
    const { upgradeWebSocket } = wslane({ app });
    const broken = { timeouts: { idle: 'soon' } } as never;
    expect(wslaneErrorCodeOf(() => upgradeWebSocket(createRoute({ options: broken })))).toBe(
      'WSLANE_CONFIG_INVALID',
    );
    expect(wslaneErrorCodeOf(() => upgradeWebSocket(() => ({}), { options: broken }))).toBe(
      'WSLANE_CONFIG_INVALID',
    );
  });
});
