import { createServer, type Server } from 'node:http';
import { connect as connectSocket, type Socket } from 'node:net';
import Router from '@koa/router';
import { type Channel, createRoute, type HubOptions, type RawMessage } from '@wslane/core';
import { listenForTest, type TestServer, withTimeout } from '@wslane/core/testing';
import { type DefaultUpgradeContext, type KoaLane, wslane } from '@wslane/koa';
import Koa from 'koa';
import { describe, expect, it } from 'vitest';
import {
  httpUrl,
  startOtherWsServer,
  thrownBy,
  useLaneServers,
  wslaneErrorCodeOf,
} from './helpers.js';

const echo = createRoute({ name: 'echo', onMessage: (m, c) => c.send(m) });
const showContext = createRoute({
  name: 'show-context',
  onOpen: (c) => c.send(JSON.stringify(c.context)),
});

interface KoaApp {
  readonly app: Koa;
  readonly router: Router;
  readonly lane: KoaLane;
}

const closeAfterTest = useLaneServers();

function koaApp(options?: HubOptions): KoaApp {
  const app = new Koa();
  return { app, router: new Router(), lane: wslane(app, options) };
}

/** Mounts the router last and serves the app on a fresh node:http server. */
async function serve({ app, router, lane }: KoaApp): Promise<TestServer> {
  app.use(router.routes());
  const server: Server = createServer(app.callback());
  lane.attach(server);
  const test = await listenForTest(server);
  closeAfterTest(lane.hub, test);
  return test;
}

describe('@wslane/koa', () => {
  it('opens a channel from an inline handler through ctx.ws, and leaves it undefined for HTTP', async () => {
    const koa = koaApp();
    koa.app.use(koa.lane.middleware());
    const opened: Channel[] = [];
    koa.router.get('/ws/inline', async (ctx) => {
      if (ctx.ws === undefined) {
        ctx.body = 'plain http';
        return;
      }
      const channel = await ctx.ws(echo);
      if (channel !== undefined) opened.push(channel);
      // The request was claimed: a second call gets nothing.
      expect(await ctx.ws(echo)).toBeUndefined();
      await channel?.send('opened inline');
    });
    const app = await serve(koa);
    const client = await app.connect('/ws/inline');
    expect(await client.next()).toBe('opened inline');
    client.ws.send('ping');
    expect(await client.next()).toBe('ping');
    expect(opened).toHaveLength(1);
    expect(opened[0]?.routeName).toBe('echo');
    const response = await fetch(httpUrl(app, '/ws/inline'));
    expect(await response.text()).toBe('plain http');
    await client.close();
  });

  it('upgrades on nested routers with prefixes and hands their params to the context', async () => {
    const koa = koaApp();
    const rooms = new Router({ prefix: '/rooms' });
    rooms.get('/:room/ws', koa.lane.upgrade(showContext));
    const needsUser = createRoute<RawMessage, RawMessage, { user: string }>({ name: 'user' });
    // @ts-expect-error the default context has no `user`: this route needs a `context` option.
    koa.lane.upgrade(needsUser);
    rooms.get('/:room/user', koa.lane.upgrade(needsUser, { context: () => ({ user: 'bob' }) }));
    const api = new Router({ prefix: '/api' });
    api.use(rooms.routes());
    koa.router.use(api.routes());
    koa.app.use(async (ctx, next) => {
      ctx.state.seen = true;
      await next();
    });
    const app = await serve(koa);
    const client = await app.connect('/api/rooms/blue/ws?x=1&x=2');
    expect(await client.nextJson()).toEqual({
      params: { room: 'blue' },
      query: { x: ['1', '2'] },
      state: { seen: true },
    });
    expect((await app.expectRefusal('/rooms/blue/ws')).status).toBe(404);
    await client.close();
  });

  it('keeps copies, and one shared frozen context for upgrades with no params, query or state', async () => {
    const koa = koaApp();
    const contexts: unknown[] = [];
    const keep = createRoute<RawMessage, RawMessage, DefaultUpgradeContext>({
      name: 'keep',
      onOpen: (channel) => {
        contexts.push(channel.context);
        return channel.send('open');
      },
    });
    koa.router.get('/ws/plain', koa.lane.upgrade(keep));
    koa.router.get('/ws/rooms/:room', koa.lane.upgrade(keep));
    const app = await serve(koa);
    const clients = [
      await app.connect('/ws/plain'),
      await app.connect('/ws/plain'),
      await app.connect('/ws/rooms/blue'),
    ];
    for (const client of clients) expect(await client.next()).toBe('open');
    const [first, second, withParams] = contexts;
    expect(first).toBe(second);
    expect(first).toEqual({ params: {}, query: {}, state: {} });
    expect(Object.isFrozen(first)).toBe(true);
    expect(withParams).toEqual({ params: { room: 'blue' }, query: {}, state: {} });
    await Promise.all(clients.map((client) => client.close()));
  });

  it("runs upgrade requests inside Koa's asyncLocalStorage like HTTP requests", async () => {
    const app = new Koa({ asyncLocalStorage: true });
    const koa = { app, router: new Router(), lane: wslane(app) };
    koa.router.get(
      '/ws/current',
      koa.lane.upgrade(showContext, {
        context: async (ctx) => {
          await Promise.resolve();
          return { same: app.currentContext === ctx, path: app.currentContext?.path };
        },
      }),
    );
    const served = await serve(koa);
    const client = await served.connect('/ws/current');
    expect(await client.nextJson()).toEqual({ same: true, path: '/ws/current' });
    await client.close();
  });

  it('answers ctx.throw(401, …) in middleware with that HTTP response and its headers', async () => {
    const koa = koaApp();
    koa.app.use(async (ctx, next) => {
      if (ctx.get('x-token') !== 'yes') {
        ctx.throw(401, 'login first', { headers: { 'WWW-Authenticate': 'Bearer realm="ws"' } });
      }
      await next();
    });
    koa.router.get('/ws/echo', koa.lane.upgrade(echo));
    koa.router.get(
      '/ws/admin',
      koa.lane.upgrade(echo, {
        context: (ctx) => ctx.throw(403),
      }),
    );
    const app = await serve(koa);
    const refusal = await app.expectRefusal('/ws/echo');
    expect(refusal.status).toBe(401);
    expect(refusal.headers['www-authenticate']).toBe('Bearer realm="ws"');
    const forbidden = await app.expectRefusal('/ws/admin', { headers: { 'x-token': 'yes' } });
    expect(forbidden.status).toBe(403);
    const client = await app.connect('/ws/echo', { headers: { 'x-token': 'yes' } });
    client.ws.send('in');
    expect(await client.next()).toBe('in');
    expect(koa.lane.hub.stats()).toMatchObject({ created: 1, pending: 0 });
    await client.close();
  });

  it('passes a plain HTTP GET on an upgrade path on to the next middleware', async () => {
    const koa = koaApp();
    koa.router.get('/ws/echo', koa.lane.upgrade(echo), (ctx) => {
      ctx.status = 426;
      ctx.body = 'use a WebSocket';
    });
    koa.router.get('/ws/bare', koa.lane.upgrade(echo));
    const app = await serve(koa);
    const described = await fetch(httpUrl(app, '/ws/echo'));
    expect(described.status).toBe(426);
    expect(await described.text()).toBe('use a WebSocket');
    expect((await fetch(httpUrl(app, '/ws/bare'))).status).toBe(404);
    expect(koa.lane.hub.stats()).toMatchObject({ created: 0, pending: 0 });
  });

  it('serves the app for users’ own tests with lane.testServer(), reusable after close()', async () => {
    const koa = koaApp();
    koa.router.get('/ws/echo', koa.lane.upgrade(echo));
    koa.app.use(koa.router.routes());
    for (const round of [1, 2]) {
      const test = await koa.lane.testServer();
      expect(test.url('/ws/echo')).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws\/echo$/);
      const client = await test.connect('/ws/echo');
      client.ws.send(`hi ${round}`);
      expect(await client.next()).toBe(`hi ${round}`);
      expect((await test.expectRefusal('/ws/nowhere')).status).toBe(404);
      // close() ends what is still open: no test hangs on a client it forgot.
      await test.close();
      await client.waitClosed();
      expect(test.server.listening).toBe(false);
      await expect.poll(() => koa.lane.hub.stats().active).toBe(0);
    }
    await koa.lane.hub.close();
    expect(koa.lane.hub.stats()).toMatchObject({ state: 'closed', created: 2, timers: 0 });
  });

  it('throws ConfigError (WSLANE_CONFIG_INVALID) for an invalid config or route options', () => {
    const invalid = { timeouts: { idle: 'soon' } } as unknown as HubOptions;
    expect(thrownBy(() => wslane(new Koa(), invalid))).toMatchObject({
      name: 'ConfigError',
      code: 'WSLANE_CONFIG_INVALID',
    });
    const lane = wslane(new Koa());
    const badRoute = createRoute({ options: { limits: { maxPayload: 'huge' } } });
    expect(wslaneErrorCodeOf(() => lane.upgrade(badRoute))).toBe('WSLANE_CONFIG_INVALID');
  });

  it('shares its server with another ws server on its own path, even behind a catch-all', async () => {
    const koa = koaApp({ unclaimedUpgradeGrace: 100 });
    koa.router.get('/ws/echo', koa.lane.upgrade(echo));
    koa.app.use(koa.router.routes());
    // A single-page-app fallback answers everything the router left alone.
    koa.app.use((ctx) => {
      ctx.body = 'index.html';
    });
    const app = await serve(koa);
    const other = await startOtherWsServer(app);
    try {
      const lane = await app.connect('/ws/echo');
      await other.expectSideBySide(lane);
      expect(koa.lane.hub.stats().active).toBe(1);
      await lane.close();
    } finally {
      await other.close();
    }
  });

  it('reports errors thrown after the upgrade to app "error", never socket errors', async () => {
    const koa = koaApp();
    const errors: unknown[] = [];
    koa.app.on('error', (error) => errors.push(error));
    koa.app.use(async (ctx, next) => {
      await next();
      if (ctx.get('x-fail') === 'after') throw Object.assign(new Error('late'), { code: 'LATE' });
    });
    koa.router.get('/ws/echo', koa.lane.upgrade(echo));
    const app = await serve(koa);
    const client = await app.connect('/ws/echo', { headers: { 'x-fail': 'after' } });
    await expect.poll(() => errors).toEqual([expect.objectContaining({ code: 'LATE' })]);
    client.ws.send('still here');
    expect(await client.next()).toBe('still here');
    await client.close();
    // A peer that resets its TCP connection is the channel's business, not a Koa request error.
    const reset = await rawUpgrade(app.url('/ws/echo'));
    await expect.poll(() => koa.lane.hub.stats().active).toBe(1);
    reset.resetAndDestroy();
    await expect.poll(() => koa.lane.hub.stats().active).toBe(0);
    expect(errors).toHaveLength(1);
  });
});

/** A raw TCP client that completes a WebSocket handshake, so the test can reset it. */
async function rawUpgrade(url: string): Promise<Socket> {
  const { port, pathname } = new URL(url);
  const socket = connectSocket(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  socket.write(
    `GET ${pathname} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  const first = await withTimeout(
    new Promise<string>((resolve) => socket.once('data', (data: Buffer) => resolve(String(data)))),
    2000,
    'handshake response',
  );
  expect(first).toMatch(/^HTTP\/1\.1 101 /);
  return socket;
}
