import type { Server } from 'node:http';
import {
  createAdaptorServer,
  upgradeWebSocket as nodeServerUpgradeWebSocket,
} from '@hono/node-server';
import { createRoute, type HubOptions } from '@wslane/core';
import { listenForTest, withTimeout } from '@wslane/core/testing';
import {
  type FetchApp,
  type HonoWebSocket,
  type WebSocketCloseEvent,
  type WebSocketErrorEvent,
  wslane,
} from '@wslane/hono';
import { type Context, Hono } from 'hono';
import type { WSEvents } from 'hono/ws';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { deferred } from '../helpers/channel-probe.js';
import { httpUrl, wslaneErrorCodeOf } from './helpers.js';
import { useHonoApps } from './hono-apps.js';

const { start, cleanups } = useHonoApps();

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
