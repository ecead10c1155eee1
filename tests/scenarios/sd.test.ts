import { ChannelClosedError } from '@wslane/core';
import { connect, expectRefusal, type TestClient } from '@wslane/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { startHubServer, useHubServers } from '../helpers/hub-server.js';
import { serverChannel, useConformanceApps } from '../integration/conformance-apps.js';
import { harnesses } from '../integration/harnesses.js';
import { activeResources, expectNoResourcesBeyond } from './helpers/active-resources.js';
import { type BlackHoleProxy, startBlackHoleProxy } from './helpers/black-hole-proxy.js';
import { closeFramesOf, parseServerFrames } from './helpers/server-frames.js';

const start = useHubServers();
const proxies: BlackHoleProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

const filler = 'q'.repeat(500);
const indexOf = (message: unknown): number => Number(String(message).split(':')[0]);

describe('SD: graceful shutdown with in-flight messages', () => {
  it('SD-01 shutdown with queued messages and running handlers: flushed, then 1001; silent peers cut at the timeout', async () => {
    // Scaled from 1,000 channels (50 silent) to 50 channels (5 silent), 100 queued messages each.
    const baseline = activeResources();
    const release = deferred();
    const replies: unknown[] = [];
    const probe = createProbe({
      onMessage: async (_m, channel) => {
        await release.promise;
        replies.push(await channel.send('reply').catch((error: unknown) => error));
      },
    });
    const server = await startHubServer(
      { '/t': probe.route },
      { backpressure: { highWaterMark: 1024 }, timeouts: { heartbeat: false } },
    );
    const clients = await Promise.all(Array.from({ length: 50 }, () => connect(server.url('/t'))));
    await expect.poll(() => probe.channels.length).toBe(50);
    for (const client of clients) client.ws.send('work');
    await expect.poll(() => server.hub.stats().messagesIn).toBe(50);
    const silent = clients.slice(0, 5);
    const answering = clients.slice(5);
    for (const client of silent) client.ws.pause();
    const sends = probe.channels.flatMap((channel) =>
      Array.from({ length: 100 }, (_, n) => channel.send(`${n}:${filler}`)),
    );
    // Most of them wait in the lanes when the shutdown starts.
    expect(probe.channels.every((channel) => channel.stats.bufferedBytes > 1024)).toBe(true);
    const startedAt = performance.now();
    // Long enough for 45 answering peers to drain their queues on a loaded machine.
    const closing = server.hub.close({ code: 1001, timeout: 1000 });
    expect((await expectRefusal(server.url('/t'))).status).toBe(503);
    // Handlers finish during the shutdown; their replies are refused (DESIGN: a send on a
    // closing channel rejects), never half-delivered.
    release.resolve();
    await closing;
    const elapsed = performance.now() - startedAt;
    // The silent peers held it until the timeout, no longer.
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(2500);
    expect(server.hub.stats()).toMatchObject({ state: 'closed', active: 0, pending: 0 });
    await Promise.all(
      answering.map(async (client) => {
        const received = await client.take(100, 4000);
        expect(received.map(indexOf)).toEqual([...Array(100).keys()]);
        expect((await client.waitClosed()).code).toBe(1001);
      }),
    );
    const outcomes = await Promise.all(sends.map((send) => send.catch((error: unknown) => error)));
    expect(outcomes.slice(5 * 100).every((outcome) => outcome === true)).toBe(true);
    await expect.poll(() => replies.length).toBe(50);
    for (const reply of replies) {
      expect(reply).toBeInstanceOf(ChannelClosedError);
      expect((reply as ChannelClosedError).closeCode).toBe(1001);
    }
    for (const client of silent) {
      client.ws.resume();
      await client.waitClosed();
    }
    await server.close();
    // Nothing keeps the process alive afterwards: no timer, no socket, no server.
    await expectNoResourcesBeyond(baseline);
  });

  describe.each(harnesses)('SD-01 on $name', (harness) => {
    const startApp = useConformanceApps(harness);

    it('SD-01 shutdown through the adapter: 503 for newcomers, queue flushed, 1001, silent peer cut', async () => {
      const app = await startApp({ backpressure: { highWaterMark: 1024 } });
      const readers = [await app.connect('/ws/echo'), await app.connect('/ws/echo')];
      const silent = await app.connect('/ws/echo');
      const channels = await Promise.all([0, 1, 2].map((i) => serverChannel(app, 'echo', i)));
      silent.ws.pause();
      const sends = channels.flatMap((channel) =>
        Array.from({ length: 50 }, (_, n) => channel.send(`${n}:${filler}`)),
      );
      const closing = app.hub.close({ code: 1001, timeout: 600 });
      expect((await app.expectRefusal('/ws/echo')).status).toBe(503);
      await closing;
      expect(app.hub.stats()).toMatchObject({ state: 'closed', active: 0 });
      for (const reader of readers) {
        expect((await reader.take(50)).map(indexOf)).toEqual([...Array(50).keys()]);
        expect((await reader.waitClosed()).code).toBe(1001);
      }
      const outcomes = await Promise.all(sends.map((send) => send.catch(() => false)));
      expect(outcomes.slice(0, 100).every((outcome) => outcome === true)).toBe(true);
      silent.ws.resume();
    });
  });

  it('SD-02 sends and broadcasts after shutdown started are refused, and say so; nothing is lost', async () => {
    const probe = createProbe({ onOpen: (channel) => channel.join('all') });
    const server = await start({ '/t': probe.route });
    const clients = await Promise.all(Array.from({ length: 10 }, () => connect(server.url('/t'))));
    await expect.poll(() => server.hub.channels.room('all').size).toBe(10);
    const outcomes: { round: number; result: unknown }[] = [];
    const broadcasts: { round: number; result: unknown }[] = [];
    let closing: Promise<void> | undefined;
    for (let round = 0; round < 50; round++) {
      if (round === 20) closing = server.hub.close();
      for (const channel of probe.channels) {
        outcomes.push({
          round,
          result: channel.send(`d${round}`).catch((error: unknown) => error),
        });
      }
      broadcasts.push({ round, result: server.hub.channels.room('all').broadcast(`b${round}`) });
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await closing;
    for (const { round, result: pending } of outcomes) {
      const result = await pending;
      if (round < 20) expect(result).toBe(true);
      else {
        expect(result).toBeInstanceOf(ChannelClosedError);
        expect((result as ChannelClosedError).closeCode).toBe(1001);
      }
    }
    for (const { round, result } of broadcasts) {
      // Closing members are counted as closed; released ones have left the room.
      if (round < 20) expect(result).toEqual({ delivered: 10, dropped: 0, closed: 0 });
      else expect(result).toMatchObject({ delivered: 0, dropped: 0 });
    }
    expect(broadcasts[20]?.result).toEqual({ delivered: 0, dropped: 0, closed: 10 });
    const expected = Array.from({ length: 20 }, (_, round) => [`d${round}`, `b${round}`]).flat();
    for (const client of clients) {
      expect(await client.take(40)).toEqual(expected);
      expect((await client.waitClosed()).code).toBe(1001);
      expect(client.buffered).toBe(0);
    }
  });

  it('SD-03 shutdown while 100 upgrades are inside async auth: none opens, each is refused, no deadlock', async () => {
    let inAuth = 0;
    const auth = deferred();
    const probe = createProbe();
    const server = await start({
      '/t': {
        route: probe.route,
        context: async () => {
          inAuth++;
          await auth.promise;
          return {};
        },
      },
    });
    const outcomes: string[] = [];
    const sockets = Array.from({ length: 100 }, () => {
      const ws = new WebSocket(server.url('/t'));
      ws.on('open', () => outcomes.push('opened'));
      ws.on('unexpected-response', (_req, res) => {
        outcomes.push(String(res.statusCode));
        res.destroy();
      });
      ws.on('error', () => outcomes.push('error'));
      return ws;
    });
    await expect.poll(() => inAuth).toBe(100);
    const closing = server.hub.close();
    auth.resolve();
    await closing;
    await expect.poll(() => outcomes.length).toBe(100);
    expect(outcomes.filter((outcome) => outcome !== '503' && outcome !== 'error')).toEqual([]);
    expect(server.hub.stats()).toMatchObject({ created: 0, active: 0, pending: 0 });
    await expect.poll(() => server.hub.stats().timers).toBe(0);
    for (const ws of sockets) ws.terminate();
  });

  it('SD-04 shutdown is idempotent: concurrent and repeated calls share one outcome, one close frame each', async () => {
    const probe = createProbe();
    const server = await start({ '/t': probe.route });
    const proxy = await startBlackHoleProxy(server.url('/t'));
    proxies.push(proxy);
    const clients: TestClient[] = [];
    for (let i = 0; i < 3; i++) clients.push(await connect(proxy.url('/t')));
    const first = server.hub.close();
    const second = server.hub.close({ code: 4000 });
    expect(second).toBe(first);
    await first;
    const third = server.hub.close();
    expect(third).toBe(first);
    await third;
    for (const client of clients) expect((await client.waitClosed()).code).toBe(1001);
    for (const [i] of clients.entries()) {
      const link = await proxy.link(i);
      const closes = closeFramesOf(parseServerFrames(link.recorded('down')));
      expect(closes.map((c) => c.code)).toEqual([1001]);
    }
    expect(server.hub.stats()).toMatchObject({ state: 'closed', created: 3, released: 3 });
  });

  describe.each(harnesses)('SD-04 on $name', (harness) => {
    const startApp = useConformanceApps(harness);

    it('SD-04 closing the adapter twice at once and once more shares one outcome', async () => {
      const app = await startApp();
      const client = await app.connect('/ws/echo');
      const first = app.hub.close();
      expect(app.hub.close()).toBe(first);
      await first;
      expect(app.hub.close()).toBe(first);
      expect((await client.waitClosed()).code).toBe(1001);
      await app.close();
      await app.close();
      expect(app.hub.stats()).toMatchObject({ state: 'closed', active: 0 });
    });
  });
});
