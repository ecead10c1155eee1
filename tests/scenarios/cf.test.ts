import type { Socket } from 'node:net';
import {
  BackpressureError,
  ChannelClosedError,
  type HubOptions,
  type OverflowPolicy,
} from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { acceptedSockets } from './helpers/accepted-sockets.js';
import { useBlackHoleProxies } from './helpers/black-hole-proxy.js';
import { untilIo, useFakeClock } from './helpers/fake-clock.js';

const start = useHubServers();
const startProxy = useBlackHoleProxies();
// Registered last so it runs first: timers are real again before proxies and servers close.
afterEach(() => {
  vi.useRealTimers();
});

const MiB = 1024 * 1024;

/** A hub with one route at /t behind a proxy, one client through it, and the proxied link. */
async function throughProxy(
  options: HubOptions,
  definition: Parameters<typeof createProbe>[0] = {},
) {
  const probe = createProbe(definition);
  const server = await start({ '/t': probe.route }, options);
  const proxy = await startProxy(server.url('/t'));
  const client = await connect(proxy.url('/t'));
  const link = await proxy.link();
  const channel = await probe.channel();
  return { probe, server, client, link, channel };
}

/** The next message, or `'closed'` if the connection closes first. */
function nextOrClosed(client: TestClient, ms: number): Promise<unknown> {
  return Promise.race([client.next(ms), client.closed.then(() => 'closed')]);
}

/** A payload whose every 4 bytes carry their own offset, so a test sees any corruption. */
function numbered(size: number): Buffer {
  const payload = Buffer.alloc(size);
  for (let offset = 0; offset + 4 <= size; offset += 4) payload.writeUInt32BE(offset, offset);
  return payload;
}

describe('CF: control frames during large transfers', () => {
  it('CF-01 a healthy peer on a slow link survives the heartbeat while a big message drains', async () => {
    // Scaled from 50 MiB at 1 MiB/s (5 s heartbeat) to 24 MiB at 16 MiB/s (1 s pong timeout).
    const { probe, client, link, channel } = await throughProxy({
      timeouts: { heartbeat: { interval: 100, timeout: 1000 }, sendStall: false },
      backpressure: { maxBufferedBytes: '32mb' },
    });
    link.throttle('down', 16 * MiB);
    let pings = 0;
    client.ws.on('ping', () => pings++);
    const payload = numbered(24 * MiB);
    const sent = channel.send(payload);
    const received = await nextOrClosed(client, 4500);
    expect(probe.errors).toEqual([]);
    expect(Buffer.isBuffer(received) && received.equals(payload)).toBe(true);
    expect(pings).toBeGreaterThan(0);
    expect(channel.state).toBe('open');
    await expect(sent).resolves.toBe(true);
    await client.close();
  });

  it('CF-02 a big payload is streamed within maxBufferedBytes with pings in between; a too-big send meets the policy', async () => {
    // Scaled from 50 MiB to 16 MiB at 16 MiB/s. A ping still waits behind what the kernels hold
    // (about 6 MiB on loopback): the pong timeout leaves room for that.
    const { probe, client, link, channel } = await throughProxy({
      timeouts: { heartbeat: { interval: 100, timeout: 2000 }, sendStall: false },
      backpressure: { highWaterMark: '64kb', maxBufferedBytes: '1mb' },
    });
    link.throttle('down', 16 * MiB);
    let pingsBeforeMessage = 0;
    client.ws.on('ping', () => {
      if (client.buffered === 0) pingsBeforeMessage++;
    });
    const payload = numbered(16 * MiB);
    let maxBuffered = 0;
    async function* chunks() {
      for (let offset = 0; offset < payload.length; offset += 64 * 1024) {
        maxBuffered = Math.max(maxBuffered, channel.stats.bufferedBytes);
        yield payload.subarray(offset, offset + 64 * 1024);
      }
    }
    const streamed = channel.sendStream(chunks());
    const received = await nextOrClosed(client, 4000);
    expect(probe.errors).toEqual([]);
    expect(Buffer.isBuffer(received) && received.equals(payload)).toBe(true);
    await expect(streamed).resolves.toBeUndefined();
    expect(maxBuffered).toBeLessThanOrEqual(MiB);
    expect(pingsBeforeMessage).toBeGreaterThanOrEqual(2);
    await client.close();
  });

  it.each<[OverflowPolicy, string]>([
    ['close', 'closes 1013'],
    ['drop-newest', 'resolves false'],
    ['drop-oldest', 'resolves false'],
    ['reject', 'rejects with BackpressureError'],
  ])(
    'CF-02 one message larger than maxBufferedBytes meets the overflow policy: %s %s',
    async (overflow) => {
      const probe = createProbe();
      const server = await start(
        { '/t': probe.route },
        { backpressure: { maxBufferedBytes: '1mb', overflow } },
      );
      const client = await connect(server.url('/t'));
      const channel = await probe.channel();
      const small = channel.send('before');
      const outcome = await channel.send(Buffer.alloc(2 * MiB)).then(
        (sent) => sent,
        (error: unknown) => error,
      );
      await expect(small).resolves.toBe(true);
      expect(await client.next()).toBe('before');
      if (overflow === 'close') {
        expect(outcome).toBeInstanceOf(ChannelClosedError);
        expect((await client.waitClosed()).code).toBe(1013);
        return;
      }
      if (overflow === 'reject') expect(outcome).toBeInstanceOf(BackpressureError);
      else expect(outcome).toBe(false);
      expect(channel.stats.dropped).toBe(overflow === 'reject' ? 0 : 1);
      // Nothing of it was queued: the channel carries on.
      await channel.send('after');
      expect(await client.next()).toBe('after');
      await client.close();
    },
  );

  it('CF-03 a ping flood: a peer that reads no pongs is cut off, one that reads is answered without starving data', async () => {
    const probe = createProbe({ onMessage: (m, c) => c.send(m) });
    const server = await start({ '/t': probe.route });
    const bystander = await connect(server.url('/t'));
    const flooder = await connect(server.url('/t'));
    const channel = await probe.channel(1);
    flooder.ws.pause();
    const payload = Buffer.alloc(125, 7);
    let maxBuffered = 0;
    for (let batch = 0; batch < 200 && channel.state === 'open'; batch++) {
      for (let i = 0; i < 1000; i++) flooder.ws.ping(payload);
      maxBuffered = Math.max(maxBuffered, channel.stats.bufferedBytes);
      if (batch === 1) {
        bystander.ws.send('unaffected');
        expect(await bystander.next()).toBe('unaffected');
      }
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await expect.poll(() => channel.state).toBe('closed');
    // Terminated once limits.maxPendingPongs (60) answers wait unflushed: 60 × 127 bytes at most.
    expect(maxBuffered).toBeLessThanOrEqual(60 * 127);
    flooder.ws.resume();
    expect((await flooder.waitClosed()).code).toBe(1006);

    // A burst faster than the pongs can be written is cut off too, even from a reading peer:
    // one TCP read holding more than limits.maxPendingPongs pings ends it...
    const burster = await connect(server.url('/t'));
    for (let i = 0; i < 1000; i++) burster.ws.ping();
    expect((await burster.waitClosed()).code).toBe(1006);
    // ...and the limit is the configured one: raised, the same burst is answered.
    const roomy = createProbe({ options: { limits: { maxPendingPongs: 5000 } } });
    const roomyServer = await start({ '/t': roomy.route });
    const tolerated = await connect(roomyServer.url('/t'));
    let answered = 0;
    tolerated.ws.on('pong', () => answered++);
    for (let i = 0; i < 1000; i++) tolerated.ws.ping();
    await expect.poll(() => answered).toBe(1000);
    expect((await roomy.channel()).state).toBe('open');
    await tolerated.close();

    // A peer that keeps its pings in flight under that bound is answered, and its data still
    // gets through in order between them.
    const pinger = await connect(server.url('/t'));
    let pongs = 0;
    pinger.ws.on('pong', () => pongs++);
    for (let batch = 0; batch < 20; batch++) {
      for (let i = 0; i < 50; i++) pinger.ws.ping(payload);
      pinger.ws.send(`data ${batch}`);
      expect(await pinger.next()).toBe(`data ${batch}`);
      await expect.poll(() => pongs).toBe((batch + 1) * 50);
    }
    expect((await probe.channel(3)).state).toBe('open');
    bystander.ws.send('still unaffected');
    expect(await bystander.next()).toBe('still unaffected');
    await Promise.all([pinger.close(), bystander.close()]);
  });

  it('CF-04 unsolicited and mismatched pongs are accepted and prove life, but do not count for idle', async () => {
    useFakeClock();
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      {
        timeouts: {
          heartbeat: { interval: 1000, timeout: 1000 },
          idle: 2500,
          sendStall: false,
          closeHandshake: 1000,
        },
      },
    );
    const sockets = acceptedSockets(server.server);
    const client = await connect(server.url('/t'), { autoPong: false });
    const channel = await probe.channel();
    const serverSocket = sockets[0] as Socket;
    let pinged = false;
    client.ws.on('ping', () => {
      pinged = true;
    });
    const pong = async (payload: string): Promise<void> => {
      const before = serverSocket.bytesRead;
      client.ws.pong(Buffer.from(payload));
      await untilIo(() => serverSocket.bytesRead > before, 'pong at the server');
    };
    // Unsolicited at 400: the heartbeat's next ping moves to 1400.
    await vi.advanceTimersByTimeAsync(400);
    await pong('unsolicited');
    await vi.advanceTimersByTimeAsync(1100);
    await untilIo(() => pinged, 'ping at 1400');
    // Answered at 1900 with a payload the ping did not carry.
    await vi.advanceTimersByTimeAsync(400);
    await pong('not your payload');
    // Unanswered, the ping would have been fatal at 2400.
    await vi.advanceTimersByTimeAsync(500);
    expect(channel.state).toBe('open');
    expect(probe.errors).toEqual([]);
    // Pongs never count for idle: closed at 2500 although two pongs arrived.
    await vi.advanceTimersByTimeAsync(200);
    expect(channel.state).not.toBe('open');
    vi.useRealTimers();
    expect((await client.waitClosed()).code).toBe(4408);
  });

  it.each([
    { upload: 'one 256 KiB frame', fragments: 1, idle: 300, heartbeat: false as const },
    { upload: '16 fragments of 16 KiB', fragments: 16, idle: 300, heartbeat: false as const },
    {
      upload: 'one 256 KiB frame, with a heartbeat',
      fragments: 1,
      idle: 0,
      heartbeat: { interval: 100, timeout: 200 },
    },
  ])('CF-05 a slow inbound upload is never idle: $upload at 256 KiB/s', async (row) => {
    const received: Buffer[] = [];
    const { probe, client, link, channel } = await throughProxy(
      { timeouts: { idle: row.idle, heartbeat: row.heartbeat, sendStall: false } },
      {
        onMessage: (message) => {
          received.push(message as Buffer);
        },
      },
    );
    link.throttle('up', 256 * 1024);
    const payload = numbered(256 * 1024);
    const size = payload.length / row.fragments;
    for (let i = 0; i < row.fragments; i++) {
      client.ws.send(payload.subarray(i * size, (i + 1) * size), {
        binary: true,
        fin: i === row.fragments - 1,
      });
    }
    await expect
      .poll(() => received.length + (channel.state === 'open' ? 0 : 1), {
        timeout: 4000,
      })
      .toBe(1);
    expect(probe.errors).toEqual([]);
    expect(channel.state).toBe('open');
    expect(received[0]?.equals(payload)).toBe(true);
    await client.close();
  });
});
