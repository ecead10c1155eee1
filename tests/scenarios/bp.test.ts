import type { Socket } from 'node:net';
import {
  BackpressureError,
  ChannelClosedError,
  type Codec,
  type OverflowPolicy,
  type RawMessage,
  type RawOutboundMessage,
  raw,
} from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { acceptedSockets } from './helpers/accepted-sockets.js';
import { useBlackHoleProxies } from './helpers/black-hole-proxy.js';
import { KiB, message, numberOf } from './helpers/bp-messages.js';
import { turn } from './helpers/event-loop.js';

const start = useHubServers();
const startProxy = useBlackHoleProxies();

describe('BP: slow consumers and backpressure', () => {
  it('BP-01 a client that stops reading: paced awaiting sends, trySend false at the cap, then 1013', async () => {
    const probe = createProbe();
    const max = 256 * KiB;
    const server = await start(
      { '/t': probe.route },
      { backpressure: { highWaterMark: '16kb', maxBufferedBytes: max } },
    );
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    client.ws.pause();
    let maxSeen = 0;
    const sample = (): void => {
      maxSeen = Math.max(maxSeen, channel.stats.bufferedBytes);
    };
    let paced = 0;
    let pacedError: unknown;
    const awaiting = (async () => {
      try {
        for (;;) {
          await channel.send(message(paced, 8 * KiB));
          paced++;
          sample();
        }
      } catch (error) {
        pacedError = error;
      }
    })();
    // The kernel buffers fill first, then the lane: the awaiting producer stalls for good, its
    // promise pending while the lane is over highWaterMark.
    let last = -1;
    let still = 0;
    await expect
      .poll(
        () => {
          const stalled = paced === last && channel.stats.bufferedBytes > 16 * KiB;
          still = stalled ? still + 1 : 0;
          last = paced;
          return still;
        },
        { interval: 5, timeout: 3000 },
      )
      .toBeGreaterThanOrEqual(10);
    let accepted = 0;
    while (channel.trySend(message(1_000_000 + accepted, 16 * KiB))) {
      accepted++;
      sample();
    }
    expect(channel.state).not.toBe('open');
    expect(channel.trySend('more')).toBe(false);
    await awaiting;
    expect(pacedError).toBeInstanceOf(ChannelClosedError);
    expect((pacedError as ChannelClosedError).closeCode).toBe(1013);
    expect(maxSeen).toBeLessThanOrEqual(max);
    client.ws.resume();
    expect((await client.waitClosed()).code).toBe(1013);
    await expect.poll(() => channel.state).toBe('closed');
    expect(channel.stats.bufferedBytes).toBe(0);
    expect(server.hub.stats()).toMatchObject({ active: 0, timers: 0 });
  });

  it('BP-02 one paused member of a broadcast room: the others get everything on time, encoded once', async () => {
    // Scaled from 1,000 members × 10,000 messages to 10 × 300 messages of 16 KiB: enough to
    // pass the ~3 MiB the kernel takes for a paused loopback client before the lane fills.
    let encodes = 0;
    const counting: Codec<RawMessage, RawOutboundMessage> = {
      ...raw(),
      encode: (m) => {
        encodes++;
        return raw().encode(m);
      },
    };
    const probe = createProbe({ codec: counting, onOpen: (c) => c.join('room') });
    const server = await start(
      { '/t': probe.route },
      { backpressure: { maxBufferedBytes: '256kb' } },
    );
    const members = 10;
    const count = 300;
    const run = async (withPausedMember: boolean) => {
      await expect.poll(() => server.hub.channels.room('room').size).toBe(0);
      const clients = await Promise.all(
        Array.from({ length: members }, () => connect(server.url('/t'))),
      );
      await expect.poll(() => server.hub.channels.room('room').size).toBe(members);
      const paused = withPausedMember ? clients[0] : undefined;
      paused?.ws.pause();
      const live = clients.filter((client) => client !== paused);
      const latencies: number[] = [];
      for (const client of live) {
        client.ws.on('message', (data: Buffer) => {
          latencies.push(performance.now() - data.readDoubleBE(4));
        });
      }
      encodes = 0;
      const results = [];
      for (let n = 0; n < count; n++) {
        const payload = message(n, 16 * KiB);
        payload.writeDoubleBE(performance.now(), 4);
        results.push(server.hub.channels.room('room').broadcast(payload));
        if (n % 10 === 9) await turn();
      }
      const received = await Promise.all(live.map((client) => client.take(count, 4000)));
      for (const messages of received) {
        expect(messages.map(numberOf)).toEqual([...Array(count).keys()]);
      }
      latencies.sort((a, b) => a - b);
      const p99 = latencies[Math.floor(latencies.length * 0.99)] as number;
      for (const client of live) await client.close();
      paused?.ws.resume();
      return { results, p99, paused };
    };
    const baseline = await run(false);
    const withPaused = await run(true);
    expect(encodes).toBe(count);
    for (const result of [...baseline.results, ...withPaused.results]) {
      expect(result.delivered + result.dropped + result.closed).toBe(members);
    }
    expect(baseline.results.every((r) => r.delivered === members)).toBe(true);
    // The paused member met its policy (close, 1013) and was counted as closed from then on.
    expect((await withPaused.paused?.waitClosed())?.code).toBe(1013);
    expect(withPaused.results.at(-1)).toEqual({ delivered: members - 1, dropped: 0, closed: 1 });
    // Loopback latency under this load is noisy (p99 from 10 to 100 ms run to run); a member
    // that held the others back would add its whole stall, so the bound is loose but real.
    expect(withPaused.p99).toBeLessThanOrEqual(2 * baseline.p99 + 250);
  });

  it.each<OverflowPolicy>(['drop-newest', 'drop-oldest', 'reject'])(
    'BP-03 each overflow policy keeps exact counts and order: %s',
    async (overflow) => {
      const max = 256 * KiB;
      const probe = createProbe();
      const server = await start(
        { '/t': probe.route },
        { backpressure: { highWaterMark: '16kb', maxBufferedBytes: max, overflow } },
      );
      const client = await connect(server.url('/t'));
      const channel = await probe.channel();
      client.ws.pause();
      // 600 × 16 KiB: more than the kernel (~3 MiB) and the lane (256 KiB) hold together.
      let maxSeen = 0;
      const sends: Promise<boolean>[] = [];
      for (let n = 0; n < 600; n++) {
        sends.push(channel.send(message(n, 16 * KiB)));
        maxSeen = Math.max(maxSeen, channel.stats.bufferedBytes);
        if (n % 50 === 49) await turn();
      }
      // Queued messages resolve once written: the client reads again from here.
      client.ws.resume();
      const rejected: number[] = [];
      const values = await Promise.all(
        sends.map((send, n) =>
          send.catch((error: unknown) => {
            expect(error).toBeInstanceOf(BackpressureError);
            rejected.push(n);
            return 'rejected' as const;
          }),
        ),
      );
      const delivered = values.flatMap((value, n) => (value === true ? [n] : []));
      const dropped = values.filter((value) => value === false).length;
      expect(await client.take(delivered.length, 4000).then((m) => m.map(numberOf))).toEqual(
        delivered,
      );
      expect(maxSeen).toBeLessThanOrEqual(max);
      expect(channel.stats.dropped).toBe(dropped);
      if (overflow === 'reject') {
        expect(rejected.length).toBeGreaterThan(0);
        expect(dropped).toBe(0);
      } else {
        expect(dropped).toBeGreaterThan(0);
        expect(rejected).toEqual([]);
      }
      if (overflow === 'drop-oldest') expect(delivered.at(-1)).toBe(599);
      expect(channel.state).toBe('open');
      await client.close();
    },
  );

  it('BP-05 a stalled send is terminated after sendStall; pending sends reject, nothing is left', async () => {
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      {
        timeouts: { heartbeat: false, sendStall: 200 },
        backpressure: { maxBufferedBytes: '16mb' },
      },
    );
    const proxy = await startProxy(server.url('/t'));
    const client = await connect(proxy.url('/t'));
    const link = await proxy.link();
    const channel = await probe.channel();
    // The proxy stops taking the server's bytes but keeps the connection: the kernel fills.
    link.pause('down');
    const sends = Array.from({ length: 10 }, (_, n) => channel.send(message(n, 1024 * KiB)));
    const outcomes = await Promise.all(
      sends.map((send) => send.then(String, (error: unknown) => error)),
    );
    const rejected = outcomes.filter((o) => o instanceof ChannelClosedError);
    expect(rejected.length).toBeGreaterThan(0);
    expect(outcomes.every((o) => o === 'true' || o instanceof ChannelClosedError)).toBe(true);
    await expect.poll(() => channel.state).toBe('closed');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_WRITE_TIMEOUT']);
    expect(server.hub.stats()).toMatchObject({ active: 0, timers: 0 });
    expect(channel.stats.bufferedBytes).toBe(0);
    client.ws.terminate();
  });

  it('BP-06 buffered-byte accounting never under-reports and returns to zero once read', async () => {
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      { backpressure: { highWaterMark: '32kb', maxBufferedBytes: '8mb', overflow: 'reject' } },
    );
    const sockets = acceptedSockets(server.server);
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    const serverSocket = sockets[0] as Socket;
    client.ws.pause();
    const pending = new Map<number, number>();
    const all: Promise<unknown>[] = [];
    let checks = 0;
    const check = (): void => {
      let laneBytes = 0;
      for (const bytes of pending.values()) laneBytes += bytes;
      expect(channel.stats.bufferedBytes).toBeGreaterThanOrEqual(
        laneBytes + serverSocket.writableLength,
      );
      checks++;
    };
    for (let n = 0; n < 600; n++) {
      const size = (1 + (n % 16)) * KiB;
      pending.set(n, size);
      const settle = (): void => {
        pending.delete(n);
      };
      all.push(channel.send(message(n, size)).then(settle, settle));
      if (n % 20 === 19) {
        await turn();
        check();
      }
    }
    for (let i = 0; i < 20; i++) {
      await turn();
      check();
    }
    expect(channel.stats.bufferedBytes).toBeGreaterThan(0);
    client.ws.resume();
    while (pending.size > 0) {
      await turn();
      check();
    }
    await Promise.all(all);
    await expect.poll(() => channel.stats.bufferedBytes).toBe(0);
    expect(checks).toBeGreaterThan(50);
    expect((await client.take(600, 4000)).map(numberOf)).toEqual([...Array(600).keys()]);
    await client.close();
  });
});
