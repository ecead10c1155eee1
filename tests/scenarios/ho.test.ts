import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  createHub,
  createRoute,
  type HubOptions,
  loadConfig,
  parseConfig,
} from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { useConformanceApps } from '../integration/conformance-apps.js';
import { harnesses } from '../integration/harnesses.js';
import { acceptedSockets, webSocketOf } from './helpers/accepted-sockets.js';
import { useBlackHoleProxies } from './helpers/black-hole-proxy.js';
import { untilIo, useFakeClock } from './helpers/fake-clock.js';

const start = useHubServers();
const startProxy = useBlackHoleProxies();
// Registered last so it runs first: timers are real again before proxies and servers close.
afterEach(() => {
  vi.useRealTimers();
});

const heartbeat1s: HubOptions = {
  timeouts: {
    heartbeat: { interval: 1000, timeout: 1000 },
    sendStall: false,
    closeHandshake: 1000,
  },
  backpressure: { highWaterMark: '16kb', maxBufferedBytes: '64kb', overflow: 'drop-newest' },
};

/** The ways a peer can vanish without a FIN. */
const deadPeers = [
  { peer: 'black-holed by a proxy', proxied: true },
  { peer: 'a ws client that stopped reading and answering pings', proxied: false },
] as const;

/** A route that counts onClose calls and codes per channel. */
function closeCounting() {
  const closes: { id: string; code: number }[] = [];
  const probe = createProbe({
    onClose: (channel, code) => {
      closes.push({ id: channel.id, code });
    },
  });
  return { probe, closes };
}

/** Connects to /t directly or through a proxy, then makes the peer vanish. */
async function vanishingPeer(url: string, proxied: boolean): Promise<TestClient> {
  if (proxied) {
    const proxy = await startProxy(url);
    const client = await connect(proxy.url('/t'));
    (await proxy.link()).blackHole();
    return client;
  }
  const client = await connect(url, { autoPong: false });
  client.ws.pause();
  return client;
}

describe('HO: half-open connections', () => {
  it.each(deadPeers)(
    'HO-01 a peer that vanishes without a FIN is terminated within interval + timeout + one tick: $peer',
    async ({ proxied }) => {
      useFakeClock();
      const { probe, closes } = closeCounting();
      const server = await start({ '/t': probe.route }, heartbeat1s);
      const sockets = acceptedSockets(server.server);
      const client = await vanishingPeer(server.url('/t'), proxied);
      const channel = await probe.channel();
      const ws = webSocketOf(sockets[0] as import('node:net').Socket);
      // The server keeps sending during the detection window: the bound holds all along.
      let maxBuffered = 0;
      const producer = setInterval(() => {
        for (let i = 0; i < 4; i++) channel.trySend(Buffer.alloc(16 * 1024));
        maxBuffered = Math.max(maxBuffered, channel.stats.bufferedBytes);
      }, 100);
      await vi.advanceTimersByTimeAsync(1_900);
      expect(channel.state).toBe('open');
      // Pinged at 1000, no answer by 2000; ticks are 100 ms.
      await vi.advanceTimersByTimeAsync(200);
      expect(channel.state).not.toBe('open');
      clearInterval(producer);
      await untilIo(() => channel.state === 'closed', 'released');
      expect(maxBuffered).toBeLessThanOrEqual(64 * 1024);
      expect(closes).toEqual([{ id: channel.id, code: 1006 }]);
      expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
      expect(server.hub.stats()).toMatchObject({ active: 0, timers: 0, rooms: {} });
      expect(server.hub.channels.get(channel.id)).toBeUndefined();
      for (const event of ['message', 'ping', 'pong', 'close'] as const) {
        expect({ event, listeners: ws?.listenerCount(event) }).toEqual({ event, listeners: 0 });
      }
      vi.useRealTimers();
      client.ws.terminate();
    },
  );

  it('HO-02 outbound traffic keeps no dead peer alive: heartbeat and idle fire on their own schedule', async () => {
    useFakeClock();
    const { probe, closes } = closeCounting();
    const server = await start({ '/t': probe.route }, heartbeat1s);
    const client = await vanishingPeer(server.url('/t'), true);
    const channel = await probe.channel();
    channel.join('news');
    const results: number[] = [];
    const broadcaster = setInterval(() => {
      results.push(server.hub.channels.room('news').broadcast('tick').delivered);
    }, 100);
    await vi.advanceTimersByTimeAsync(1_900);
    expect(channel.state).toBe('open');
    await vi.advanceTimersByTimeAsync(200);
    expect(channel.state).not.toBe('open');
    clearInterval(broadcaster);
    expect(results.slice(0, 19).every((delivered) => delivered === 1)).toBe(true);
    await untilIo(() => channel.state === 'closed', 'released');
    expect(closes.map((c) => c.code)).toEqual([1006]);
    vi.useRealTimers();
    client.ws.terminate();
  });

  it('HO-02 outbound traffic never refreshes idle: idle closes the dead peer at its deadline', async () => {
    useFakeClock();
    const { probe, closes } = closeCounting();
    const server = await start(
      { '/t': probe.route },
      { timeouts: { idle: 1500, heartbeat: false, sendStall: false, closeHandshake: 1000 } },
    );
    const client = await vanishingPeer(server.url('/t'), true);
    const channel = await probe.channel();
    const sender = setInterval(() => channel.trySend('tick'), 100);
    await vi.advanceTimersByTimeAsync(1_400);
    expect(channel.state).toBe('open');
    await vi.advanceTimersByTimeAsync(200);
    expect(channel.state).toBe('closing');
    clearInterval(sender);
    // The 4408 close frame went into the black hole: terminated at the close deadline.
    await vi.advanceTimersByTimeAsync(1_000);
    await untilIo(() => channel.state === 'closed', 'released');
    expect(closes).toHaveLength(1);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_CLOSE_TIMEOUT']);
    vi.useRealTimers();
    client.ws.terminate();
  });

  it('HO-03 alive but silent: a peer that only answers pings is closed 4408 at the idle deadline', async () => {
    useFakeClock();
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      { timeouts: { idle: 3000, heartbeat: { interval: 500, timeout: 500 }, sendStall: false } },
    );
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    let pings = 0;
    client.ws.on('ping', () => pings++);
    for (let t = 0; t < 2900; t += 100) {
      await vi.advanceTimersByTimeAsync(100);
      // Let each ping and its pong cross before time moves on.
      await untilIo(() => pings >= Math.floor((t + 100) / 550), 'pings answered');
    }
    expect(channel.state).toBe('open');
    expect(pings).toBeGreaterThanOrEqual(4);
    await vi.advanceTimersByTimeAsync(200);
    expect(channel.state).not.toBe('open');
    vi.useRealTimers();
    expect((await client.waitClosed()).code).toBe(4408);
    expect(probe.errors).toEqual([]);
  });

  it('HO-04 an intermediary idle cut: pings keep the link alive; without them the server notices by itself', async () => {
    const probe = createProbe({ onMessage: (m, c) => c.send(m) });
    const server = await start(
      { '/t': probe.route },
      { timeouts: { heartbeat: { interval: 60, timeout: 200 }, sendStall: false } },
    );
    // The proxy forgets a connection that carried no byte for 200 ms (a NAT dropping it).
    const proxy = await startProxy(server.url('/t'), { idleCutMs: 200 });
    const client = await connect(proxy.url('/t'));
    const link = await proxy.link();
    let pings = 0;
    const enough = new Promise<void>((resolve) => {
      client.ws.on('ping', () => {
        pings++;
        if (pings === 20) resolve();
      });
    });
    // Twenty heartbeats: over 1.2 s, six times the cut, with no data either way.
    await enough;
    expect(link.mode('up')).toBe('forward');
    client.ws.send('still through');
    expect(await client.next()).toBe('still through');
    await client.close();

    // No heartbeat: the link is cut silently; the server's own idle deadline notices.
    const { probe: quiet, closes } = closeCounting();
    const server2 = await start(
      { '/t': quiet.route },
      {
        timeouts: { heartbeat: false, idle: 400, closeHandshake: 200, sendStall: false },
      },
    );
    const proxy2 = await startProxy(server2.url('/t'), { idleCutMs: 200 });
    const cutClient = await connect(proxy2.url('/t'));
    const cutLink = await proxy2.link();
    const channel = await quiet.channel();
    const openedAt = performance.now();
    await expect.poll(() => cutLink.mode('up'), { timeout: 2000 }).toBe('black-hole');
    await expect.poll(() => channel.state, { timeout: 2000 }).toBe('closed');
    // Idle at 400, then the unanswered close frame's deadline: well before a second.
    expect(performance.now() - openedAt).toBeLessThan(1500);
    expect(closes).toHaveLength(1);
    expect(quiet.errors.map((e) => e.code)).toEqual(['WSLANE_CLOSE_TIMEOUT']);
    // The client never heard a thing: for it the connection is still open.
    expect(cutClient.ws.readyState).toBe(cutClient.ws.OPEN);
    cutClient.ws.terminate();
  });

  it('HO-05 a configured timeout is never silently inactive: hub, route and JSON file all fire', async () => {
    const idleRoute = createProbe({ options: { timeouts: { idle: 120 } } });
    const plain = createProbe();
    const hubWide = createProbe();
    const viaRoute = await start({ '/idle': idleRoute.route, '/plain': plain.route });
    const viaHub = await start({ '/t': hubWide.route }, { timeouts: { idle: 100 } });
    expect(viaHub.hub.config.timeouts.idle).toBe(100);
    expect(viaRoute.hub.config.timeouts.idle).toBe(0);
    expect(viaRoute.hub.routeConfig(idleRoute.route).timeouts.idle).toBe(120);
    const dir = await mkdtemp(join(tmpdir(), 'wslane-ho05-'));
    try {
      const file = join(dir, 'wslane.json');
      await writeFile(
        file,
        JSON.stringify({
          timeouts: { idle: '150ms', heartbeat: { interval: '50ms', timeout: 50 } },
        }),
      );
      const fromFile = await loadConfig(file);
      expect(fromFile.timeouts).toMatchObject({
        idle: 150,
        heartbeat: { interval: 50, timeout: 50 },
      });
      const fileProbe = createProbe();
      const viaFile = await start({ '/t': fileProbe.route }, fromFile);
      expect(viaFile.hub.config.timeouts.idle).toBe(150);
      const clients = {
        hub: await connect(viaHub.url('/t')),
        route: await connect(viaRoute.url('/idle')),
        untouched: await connect(viaRoute.url('/plain')),
        file: await connect(viaFile.url('/t')),
        fileHeartbeat: await connect(viaFile.url('/t'), { autoPong: false }),
      };
      expect((await clients.hub.waitClosed()).code).toBe(4408);
      expect((await clients.route.waitClosed()).code).toBe(4408);
      expect((await clients.file.waitClosed()).code).toBe(4408);
      expect((await clients.fileHeartbeat.waitClosed()).code).toBe(1006);
      expect(fileProbe.errors.map((e) => e.code)).toContain('WSLANE_HEARTBEAT_TIMEOUT');
      expect(clients.untouched.ws.readyState).toBe(clients.untouched.ws.OPEN);
      await clients.untouched.close();

      // Nonsense fails with ConfigError naming every bad path, wherever it is written.
      // (A heartbeat timeout longer than its interval is valid: the next ping waits for it.)
      const nonsense = {
        timeouts: {
          idle: -1,
          handshake: 0,
          closeHandshake: '5 parsecs',
          heartbeat: { interval: 0, timeout: 'soon' },
        },
      };
      const expectedPaths = [
        'timeouts.idle',
        'timeouts.handshake',
        'timeouts.closeHandshake',
        'timeouts.heartbeat.interval',
        'timeouts.heartbeat.timeout',
      ];
      const pathsOf = (error: unknown): string[] =>
        error instanceof ConfigError ? error.issues.map((issue) => issue.path).sort() : [];
      expect(pathsOf(thrown(() => parseConfig(nonsense)))).toEqual([...expectedPaths].sort());
      await writeFile(file, JSON.stringify(nonsense));
      expect(pathsOf(await loadConfig(file).catch((error: unknown) => error))).toEqual(
        [...expectedPaths].sort(),
      );
      const badRoute = createRoute({ name: 'bad', options: { timeouts: { idle: 'soon' } } });
      const hub = createHub();
      expect(pathsOf(thrown(() => hub.routeConfig(badRoute)))).toEqual([
        'routes["bad"].timeouts.idle',
      ]);
      await hub.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe.each(harnesses)('HO-05 on $name', (harness) => {
    const startApp = useConformanceApps(harness);

    it('HO-05 timeouts passed to the adapter are active, and invalid ones are a ConfigError', async () => {
      const app = await startApp({ timeouts: { idle: 100, heartbeat: false } });
      expect(app.hub.config.timeouts.idle).toBe(100);
      const client = await app.connect('/ws/echo');
      expect((await client.waitClosed()).code).toBe(4408);
      await expect(
        harness.start({ timeouts: { idle: 'soon' } } as unknown as HubOptions),
      ).rejects.toMatchObject({ code: 'WSLANE_CONFIG_INVALID' });
    });
  });
});

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}
