import type { Socket } from 'node:net';
import {
  type Channel,
  ChannelClosedError,
  createRoute,
  type HubOptions,
  type RouteOptions,
} from '@wslane/core';
import { connect, type TestClient, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { startHubServer, useHubServers } from '../helpers/hub-server.js';
import { harnesses } from '../integration/harnesses.js';
import { acceptedSockets, webSocketOf } from './helpers/accepted-sockets.js';
import {
  activeResources,
  expectNoResourcesBeyond,
  libraryTimerCalls,
} from './helpers/active-resources.js';
import { startBlackHoleProxy } from './helpers/black-hole-proxy.js';
import { untilIo, useFakeClock } from './helpers/fake-clock.js';
import { closeFramesOf, parseServerFrames } from './helpers/server-frames.js';

const start = useHubServers();
afterEach(() => {
  vi.useRealTimers();
});

const quiet = { heartbeat: false, sendStall: false } as const;

interface Live {
  readonly client: TestClient;
  readonly channel: Channel;
  readonly serverSocket: Socket;
}

/** A hub with one route at /t, one client, the channel and the server's side of its socket. */
async function openOne(
  options: HubOptions,
  definition: Parameters<typeof createProbe>[0] = {},
  clientOptions: Parameters<typeof connect>[1] = {},
): Promise<Live & { probe: ReturnType<typeof createProbe> }> {
  const probe = createProbe(definition);
  const server = await start({ '/t': probe.route }, options);
  const sockets = acceptedSockets(server.server);
  const client = await connect(server.url('/t'), clientOptions);
  const channel = await probe.channel();
  return { probe, client, channel, serverSocket: sockets[0] as Socket };
}

/** Waits (without moving fake time) until the server has read bytes beyond `before`. */
function arrived(live: Live, before: number): Promise<void> {
  return untilIo(() => live.serverSocket.bytesRead > before, 'bytes at the server');
}

interface TimerRow {
  readonly event: string;
  readonly resets: boolean;
  readonly options?: HubOptions['timeouts'];
  act(live: Live): Promise<void>;
}

const fromClient =
  (send: (client: TestClient) => void) =>
  async (live: Live): Promise<void> => {
    const before = live.serverSocket.bytesRead;
    send(live.client);
    await arrived(live, before);
  };

const outboundData = async (live: Live): Promise<void> => {
  await live.channel.send('out');
  await untilIo(() => live.client.buffered > 0, 'outbound message at the client');
};

const idleRows: TimerRow[] = [
  { event: 'inbound data frame', resets: true, act: fromClient((c) => c.ws.send('x')) },
  // A fragment of an unfinished message is a data frame (CF-05).
  {
    event: 'inbound fragment of an unfinished message',
    resets: true,
    act: fromClient((c) => c.ws.send('x', { fin: false })),
  },
  { event: 'inbound ping', resets: false, act: fromClient((c) => c.ws.ping()) },
  { event: 'inbound pong', resets: false, act: fromClient((c) => c.ws.pong()) },
  { event: 'outbound data', resets: false, act: outboundData },
  {
    event: 'outbound ping, answered',
    resets: false,
    options: { heartbeat: { interval: 300, timeout: 5000 } },
    act: async () => {},
  },
];

const heartbeatRows: TimerRow[] = [
  { event: 'inbound data frame', resets: true, act: fromClient((c) => c.ws.send('x')) },
  {
    event: 'inbound fragment of an unfinished message',
    resets: true,
    act: fromClient((c) => c.ws.send('x', { fin: false })),
  },
  { event: 'inbound ping', resets: true, act: fromClient((c) => c.ws.ping()) },
  { event: 'inbound pong', resets: true, act: fromClient((c) => c.ws.pong()) },
  { event: 'outbound data', resets: false, act: outboundData },
  { event: 'outbound ping (the heartbeat’s own)', resets: false, act: async () => {} },
];

describe('TM: timeouts and timers', () => {
  it('TM-01 idle fires while a receive is pending: 4408 at the deadline, driven by the clock', async () => {
    useFakeClock();
    const stuck = deferred();
    const live = await openOne(
      { timeouts: { ...quiet, idle: '30s', closeHandshake: '5s' } },
      { onMessage: () => stuck.promise },
    );
    // Its handler never returns: from here on a receive is pending and nothing else arrives.
    await fromClient((c) => c.ws.send('work'))(live);
    await vi.advanceTimersByTimeAsync(29_500);
    expect(live.channel.state).toBe('open');
    // 30 s plus one clock tick (a tenth of the shortest deadline, 5 s).
    await vi.advanceTimersByTimeAsync(1_000);
    expect(live.channel.state).not.toBe('open');
    vi.useRealTimers();
    expect((await live.client.waitClosed()).code).toBe(4408);
    stuck.resolve();
  });

  it.each(idleRows)(
    'TM-02 which events reset which timer: idle and $event (resets: $resets)',
    async (row) => {
      useFakeClock();
      const live = await openOne({
        timeouts: { ...quiet, idle: 1000, closeHandshake: 1000, ...row.options },
      });
      await vi.advanceTimersByTimeAsync(700);
      await row.act(live);
      // Ticks are 100 ms: without a reset the idle deadline (1000) has passed by 1100.
      await vi.advanceTimersByTimeAsync(400);
      expect(live.channel.state === 'open').toBe(row.resets);
      if (row.resets) {
        await vi.advanceTimersByTimeAsync(700);
        expect(live.channel.state).not.toBe('open');
      }
      vi.useRealTimers();
      expect((await live.client.waitClosed()).code).toBe(4408);
    },
  );

  it.each(heartbeatRows)(
    'TM-02 which events reset which timer: heartbeat and $event (resets: $resets)',
    async (row) => {
      useFakeClock();
      const live = await openOne(
        {
          timeouts: {
            ...quiet,
            heartbeat: { interval: 1000, timeout: 1000 },
            closeHandshake: 1000,
          },
        },
        {},
        { autoPong: false },
      );
      let pings = 0;
      live.client.ws.on('ping', () => pings++);
      await vi.advanceTimersByTimeAsync(1000);
      await untilIo(() => pings === 1, 'first ping');
      await vi.advanceTimersByTimeAsync(500);
      await row.act(live);
      // Pinged at 1000 and never answered: terminated at 2000 unless the event proved life.
      await vi.advanceTimersByTimeAsync(600);
      expect(live.channel.state === 'open').toBe(row.resets);
      if (row.resets) {
        // Life at 1500: the next ping at 2500, termination at 3500.
        await vi.advanceTimersByTimeAsync(1500);
        expect(live.channel.state).not.toBe('open');
        expect(pings).toBe(2);
      }
      vi.useRealTimers();
      expect((await live.client.waitClosed()).code).toBe(1006);
      expect(live.probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
    },
  );

  it('TM-03 resetting a timer never multiplies timers: no timer per message or per channel', async () => {
    // Scaled from 10,000 channels × 100 messages to 200 × 100 to stay inside 5 s.
    let messages = 0;
    const route = createRoute({
      onMessage: () => {
        messages++;
      },
    });
    const server = await start({ '/t': route }, { timeouts: { idle: '1m' } });
    const calls = libraryTimerCalls();
    try {
      const clients = await Promise.all(
        Array.from({ length: 200 }, () => connect(server.url('/t'))),
      );
      expect(server.hub.stats()).toMatchObject({ active: 200, timers: 1 });
      // The shared clock starts (and restarts while the first channels open), never per channel.
      expect(calls.count).toBeLessThanOrEqual(3);
      const before = activeResources();
      calls.reset();
      for (const client of clients) {
        for (let i = 0; i < 100; i++) client.ws.send(String(i));
      }
      await expect.poll(() => messages, { timeout: 4000 }).toBe(20_000);
      expect(calls.count).toBe(0);
      expect(server.hub.stats().timers).toBe(1);
      expect(activeResources().Timeout ?? 0).toBe(before.Timeout ?? 0);
      await Promise.all(clients.map((client) => client.close()));
    } finally {
      calls.restore();
    }
  });

  it('TM-04 idle versus max lifetime: each channel closes once, at its own deadline', async () => {
    useFakeClock();
    const closes: { id: string; code: number }[] = [];
    const arrivals: string[] = [];
    const probe = createProbe({
      onMessage: (_m, channel) => {
        arrivals.push(channel.id);
      },
      onClose: (channel, code) => {
        closes.push({ id: channel.id, code });
      },
    });
    const server = await start(
      { '/t': probe.route },
      { timeouts: { ...quiet, idle: '30s', maxLifetime: '5m', closeHandshake: '5s' } },
    );
    const a = await connect(server.url('/t'));
    const b = await connect(server.url('/t'));
    const c = await connect(server.url('/t'));
    const [chA, chB, chC] = [
      await probe.channel(0),
      await probe.channel(1),
      await probe.channel(2),
    ];
    // C would have its lifetime extended by a token-refresh hook; wslane offers none, so C is
    // held to the same lifetime as A.
    let elapsed = 0;
    while (elapsed + 29_000 < 300_000) {
      await vi.advanceTimersByTimeAsync(29_000);
      elapsed += 29_000;
      const before = arrivals.length;
      a.ws.send('keep');
      c.ws.send('keep');
      await untilIo(() => arrivals.length === before + 2, 'keep-alive messages');
      if (elapsed === 29_000) expect(chB.state).toBe('open');
      if (elapsed === 58_000) expect(chB.state).not.toBe('open');
    }
    await vi.advanceTimersByTimeAsync(299_500 - elapsed);
    expect([chA.state, chC.state]).toEqual(['open', 'open']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect([chA.state, chC.state]).not.toContain('open');
    await untilIo(() => closes.length === 3, 'three closes');
    await vi.advanceTimersByTimeAsync(60_000);
    vi.useRealTimers();
    expect((await b.waitClosed()).code).toBe(4408);
    expect((await a.waitClosed()).code).toBe(4001);
    expect((await c.waitClosed()).code).toBe(4001);
    expect(closes[0]).toEqual({ id: chB.id, code: 4408 });
    expect(closes).toHaveLength(3);
    expect(closes).toEqual(
      expect.arrayContaining([
        { id: chA.id, code: 4001 },
        { id: chC.id, code: 4001 },
      ]),
    );
  });

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

interface ClosePath {
  readonly path: string;
  readonly options?: RouteOptions;
  readonly clientOptions?: Parameters<typeof connect>[1];
  /** Ends the channel; `open` opens further clients on the same route. */
  trigger(
    live: Live,
    open: (query?: string) => Promise<TestClient>,
    hubClose: () => Promise<void>,
  ): Promise<unknown>;
}

const closePaths: ClosePath[] = [
  { path: 'peer close', trigger: ({ client }) => client.close() },
  { path: 'server close', trigger: ({ channel }) => channel.close(1000) },
  { path: 'terminate', trigger: async ({ channel }) => channel.terminate() },
  {
    path: 'protocol error',
    trigger: async ({ client }) => {
      // A masked frame with reserved opcode 3: ws closes with 1002.
      const raw = (client.ws as unknown as { _socket: Socket })._socket;
      raw.write(Buffer.from([0x83, 0x80, 1, 2, 3, 4]));
    },
  },
  { path: 'handler error', trigger: async ({ client }) => client.ws.send('throw') },
  { path: 'idle', options: { timeouts: { idle: 100 } }, trigger: async () => {} },
  {
    path: 'heartbeat',
    options: { timeouts: { heartbeat: { interval: 50, timeout: 50 } } },
    clientOptions: { autoPong: false },
    trigger: async () => {},
  },
  { path: 'lifetime', options: { timeouts: { maxLifetime: 100 } }, trigger: async () => {} },
  {
    path: 'send stall',
    options: {
      timeouts: { sendStall: 100 },
      backpressure: { maxBufferedBytes: '64mb', overflow: 'drop-newest' },
    },
    trigger: async ({ client, channel }) => {
      client.ws.pause();
      for (let i = 0; i < 400; i++) channel.trySend(Buffer.alloc(64 * 1024));
    },
  },
  { path: 'replacement', trigger: async (_live, open) => open() },
  { path: 'shutdown', trigger: async (_live, _open, hubClose) => void hubClose() },
  { path: 'failure during onOpen', trigger: async (_live, open) => open('fail') },
];

describe('TM-09 every close path clears every timer', () => {
  it.each(closePaths)('TM-09 every close path clears every timer: $path', async (row) => {
    const failOpen = row.path === 'failure during onOpen';
    const probe = createProbe({
      key: (context: unknown) => (context as { user: string }).user,
      options: { ...row.options, timeouts: { closeHandshake: 200, ...row.options?.timeouts } },
      onOpen: (channel) => {
        channel.join('lobby');
        if ((channel.context as { fail?: boolean }).fail) throw new Error('onOpen failed');
      },
      onMessage: (message) => {
        if (message === 'throw') throw new Error('handler failed');
      },
    });
    const context = (req: { url?: string }) => {
      const query = new URL(req.url ?? '/', 'http://x').searchParams;
      return { user: 'u1', fail: query.has('fail') };
    };
    const server = await start({ '/t': { route: probe.route, context } });
    const sockets = acceptedSockets(server.server);
    const opened: TestClient[] = [];
    const open = async (query = ''): Promise<TestClient> => {
      const client = await connect(
        server.url(`/t${query === '' ? '' : `?${query}`}`),
        row.clientOptions,
      );
      opened.push(client);
      return client;
    };
    const client = failOpen ? undefined : await open();
    const channel = failOpen ? undefined : await probe.channel(0);
    let aborts = 0;
    channel?.signal.addEventListener('abort', () => aborts++);
    const live = { client, channel, serverSocket: sockets[0] } as Live;
    await row.trigger(live, open, () => server.hub.close({ timeout: 500 }));
    const ended = failOpen ? await probe.channel(0) : (channel as Channel);
    await expect.poll(() => ended.state, { timeout: 3000 }).toBe('closed');
    if (!failOpen) expect(aborts).toBe(1);
    expect(ended.signal.aborted).toBe(true);
    expect(ended.rooms.size).toBe(0);
    const ws = webSocketOf(sockets[0] as Socket);
    expect(ws).toBeDefined();
    expect(sockets[0]?.destroyed).toBe(true);
    for (const event of ['message', 'ping', 'pong', 'close'] as const) {
      expect({ event, listeners: ws?.listenerCount(event) }).toEqual({ event, listeners: 0 });
    }
    const replaced = row.path === 'replacement';
    const stats = server.hub.stats();
    expect(stats).toMatchObject({
      active: replaced ? 1 : 0,
      timers: replaced ? 1 : 0,
      rooms: replaced ? { lobby: 1 } : {},
    });
    expect(server.hub.channels.getByKey(probe.route.name, 'u1')).toBe(
      replaced ? probe.channels[1] : undefined,
    );
    for (const each of opened) {
      each.ws.resume();
      await withTimeout(each.close(), 2000, 'client close');
    }
  });
});
