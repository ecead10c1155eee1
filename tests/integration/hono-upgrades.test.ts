import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { type IncomingHttpHeaders, request } from 'node:http';
import { createRoute } from '@wslane/core';
import { type TestServer, withTimeout } from '@wslane/core/testing';
import { type Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { httpUrl } from './helpers.js';
import { useHonoApps } from './hono-apps.js';

const { start } = useHonoApps();

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
