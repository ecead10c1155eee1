import { createRoute, type HubOptions } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { activeResources, libraryTimerCalls } from './helpers/active-resources.js';
import { untilIo, useFakeClock } from './helpers/fake-clock.js';
import { fromClient, type Live, liveOpener, quiet } from './helpers/tm-live-channel.js';

const start = useHubServers();
const openOne = liveOpener(start);
afterEach(() => {
  vi.useRealTimers();
});

interface TimerRow {
  readonly event: string;
  readonly resets: boolean;
  readonly options?: HubOptions['timeouts'];
  act(live: Live): Promise<void>;
}

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
});
