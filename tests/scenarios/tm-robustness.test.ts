import { type Channel, ChannelClosedError } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { startHubServer, useHubServers } from '../helpers/hub-server.js';
import { harnesses } from '../integration/harnesses.js';
import { activeResources, expectNoResourcesBeyond } from './helpers/active-resources.js';
import { startBlackHoleProxy } from './helpers/black-hole-proxy.js';
import { untilIo, useFakeClock } from './helpers/fake-clock.js';
import { closeFramesOf, parseServerFrames } from './helpers/server-frames.js';
import { arrived, fromClient, liveOpener, quiet } from './helpers/tm-live-channel.js';

const start = useHubServers();
const openOne = liveOpener(start);
afterEach(() => {
  vi.useRealTimers();
});

describe('TM: timers under hung handlers, clock jumps, hub restarts and unanswered closes', () => {
  it('TM-05 a handler that never finishes: idle, heartbeat and lifetime still fire; its late send rejects', async () => {
    useFakeClock();
    const stuck = deferred();
    const late: unknown[] = [];
    const signals: AbortSignal[] = [];
    const handler = {
      onMessage: async (_m: unknown, channel: Channel) => {
        signals.push(channel.signal);
        await stuck.promise;
        late.push(await channel.send('too late').catch((error: unknown) => error));
      },
    };
    const idle = await openOne(
      { timeouts: { ...quiet, idle: 1000, closeHandshake: 1000 }, limits: { inboundQueue: 4 } },
      { onMessage: handler.onMessage },
    );
    // Fewer messages than the queue holds: reads never pause, so idle runs.
    const before = idle.serverSocket.bytesRead;
    for (let i = 0; i < 3; i++) idle.client.ws.send(String(i));
    await arrived(idle, before);
    await untilIo(() => idle.channel.stats.messagesIn === 3, 'three messages');
    await vi.advanceTimersByTimeAsync(1_100);
    expect(idle.channel.state).not.toBe('open');
    expect(signals[0]?.aborted).toBe(true);
    const heartbeat = await openOne(
      { timeouts: { ...quiet, heartbeat: { interval: 500, timeout: 500 } } },
      { onMessage: handler.onMessage },
      { autoPong: false },
    );
    await fromClient((c) => c.ws.send('x'))(heartbeat);
    await vi.advanceTimersByTimeAsync(1_100);
    expect(heartbeat.channel.state).not.toBe('open');
    // A flood: the queue fills, reads pause, and while paused only the lifetime runs (idle waits).
    const lifetime = await openOne(
      {
        timeouts: { ...quiet, idle: 1000, maxLifetime: 3000, closeHandshake: 1000 },
        limits: { inboundQueue: 4, rateLimit: false },
      },
      { onMessage: handler.onMessage },
    );
    const kib = 'k'.repeat(1024);
    for (let i = 0; i < 2000; i++) lifetime.client.ws.send(kib);
    await untilIo(() => lifetime.serverSocket.isPaused(), 'reads paused');
    await vi.advanceTimersByTimeAsync(2_900);
    expect(lifetime.channel.state).toBe('open');
    await vi.advanceTimersByTimeAsync(200);
    expect(lifetime.channel.state).not.toBe('open');
    // The flood stopped at TCP: far fewer than 2000 were ever decoded.
    expect(lifetime.channel.stats.messagesIn).toBeLessThan(2000);
    // Its reads stay paused, so the close handshake ends at its deadline (see BP-04).
    await vi.advanceTimersByTimeAsync(1_100);
    vi.useRealTimers();
    expect((await idle.client.waitClosed()).code).toBe(4408);
    expect((await heartbeat.client.waitClosed()).code).toBe(1006);
    expect((await lifetime.client.waitClosed()).code).toBe(4001);
    stuck.resolve();
    await expect.poll(() => late.length).toBe(3);
    for (const error of late) expect(error).toBeInstanceOf(ChannelClosedError);
    expect(late.slice(0, 2).map((error) => (error as ChannelClosedError).closeCode)).toEqual([
      4408, 1006,
    ]);
  });

  it('TM-06 clock changes: a wall-clock jump neither mass-expires channels nor delays deadlines', async () => {
    useFakeClock();
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      { timeouts: { ...quiet, idle: '30s', closeHandshake: '5s' } },
    );
    const a = await connect(server.url('/t'));
    const b = await connect(server.url('/t'));
    const [chA, chB] = [await probe.channel(0), await probe.channel(1)];
    await vi.advanceTimersByTimeAsync(10_000);
    vi.setSystemTime(Date.now() + 3_600_000);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([chA.state, chB.state]).toEqual(['open', 'open']);
    const before = chA.stats.messagesIn;
    a.ws.send('still here');
    await untilIo(() => chA.stats.messagesIn === before + 1, 'message at 11 s');
    vi.setSystemTime(Date.now() - 3_600_000);
    // B's deadline is 30 s after it opened, A's 30 s after its message at 11 s.
    await vi.advanceTimersByTimeAsync(19_500);
    expect(chB.state).not.toBe('open');
    expect(chA.state).toBe('open');
    await vi.advanceTimersByTimeAsync(11_000);
    expect(chA.state).not.toBe('open');
    vi.useRealTimers();
    expect((await b.waitClosed()).code).toBe(4408);
    expect((await a.waitClosed()).code).toBe(4408);
  });

  it('TM-07 start and stop the hub repeatedly: one sweeper at most, timers and sockets back to baseline', async () => {
    const baseline = activeResources();
    for (let round = 0; round < 10; round++) {
      const probe = createProbe({ onMessage: (m, c) => c.send(m) });
      const server = await startHubServer({ '/t': probe.route }, { timeouts: { idle: '1m' } });
      const clients = [await connect(server.url('/t')), await connect(server.url('/t'))];
      expect(server.hub.stats().timers).toBe(1);
      for (const client of clients) {
        client.ws.send(`round ${round}`);
        expect(await client.next()).toBe(`round ${round}`);
      }
      await server.close();
      expect(server.hub.stats()).toMatchObject({ state: 'closed', active: 0, timers: 0 });
      for (const client of clients) expect((await client.waitClosed()).code).toBe(1001);
    }
    await expectNoResourcesBeyond(baseline);
  });

  describe.each(harnesses)('TM-07 on $name', (harness) => {
    it('TM-07 start and stop the hub repeatedly through the adapter', async () => {
      const baseline = activeResources();
      for (let round = 0; round < 5; round++) {
        const app = await harness.start({ timeouts: { idle: '1m' } });
        const client = await app.connect('/ws/echo');
        expect(app.hub.stats().timers).toBe(1);
        client.ws.send(`round ${round}`);
        expect(await client.next()).toBe(`round ${round}`);
        await app.close();
        expect(app.hub.stats()).toMatchObject({ state: 'closed', active: 0, timers: 0 });
        expect((await client.waitClosed()).code).toBe(1001);
      }
      await expectNoResourcesBeyond(baseline);
    });
  });

  it('TM-08 a close the peer never answers is escalated once: one attempt, one log, terminate at the deadline', async () => {
    useFakeClock();
    const logger = { debug: vi.fn(), info: vi.fn(), warn: vi.fn(), error: vi.fn() };
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      { logger, timeouts: { ...quiet, idle: 1000, closeHandshake: 500 } },
    );
    const proxy = await startBlackHoleProxy(server.url('/t'));
    try {
      const client = await connect(proxy.url('/t'));
      const link = await proxy.link();
      const channel = await probe.channel();
      link.blackHole();
      // Idle at 1000 (ticks of 50 ms), then the close handshake deadline at 1500.
      await vi.advanceTimersByTimeAsync(1_050);
      expect(channel.state).toBe('closing');
      await vi.advanceTimersByTimeAsync(400);
      expect(channel.state).toBe('closing');
      await vi.advanceTimersByTimeAsync(100);
      await untilIo(() => channel.state === 'closed', 'terminated');
      await vi.advanceTimersByTimeAsync(10_000);
      const frames = parseServerFrames(link.recorded('down'));
      expect(closeFramesOf(frames).map((f) => f.code)).toEqual([4408]);
      const logged = [
        ...logger.debug.mock.calls,
        ...logger.warn.mock.calls,
        ...logger.error.mock.calls,
      ];
      expect(logged.map(([, detail]) => (detail as { code?: unknown }).code)).toEqual([
        4408,
        'WSLANE_CLOSE_TIMEOUT',
      ]);
      expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_CLOSE_TIMEOUT']);
      expect(server.hub.stats()).toMatchObject({ active: 0, timers: 0 });
      vi.useRealTimers();
      client.ws.terminate();
    } finally {
      vi.useRealTimers();
      await proxy.close();
    }
  });
});
