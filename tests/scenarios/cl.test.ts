import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { type Channel, ChannelClosedError, createHub, type Logger } from '@wslane/core';
import { connect, type TestClient, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { TLS_FIXTURE } from './helpers/cl-tls-fixture.js';
import { upgradeRequest } from './helpers/http-upgrade.js';
import { useWireClients, WireClient } from './helpers/wire-client.js';
import { closeCodeOf, OP, toMessages, type WireFrame } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

afterEach(() => {
  vi.useRealTimers();
});

/** A logger that keeps what it is told, by level. */
function recordingLogger() {
  const lines: { level: keyof Logger; message: string; detail?: Record<string, unknown> }[] = [];
  const at =
    (level: keyof Logger) =>
    (message: string, detail?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(detail === undefined ? {} : { detail }) });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, lines };
}

/** A macrotask turn: lets sockets and timers run between sends. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves once `value()` has not changed for 50 event loop turns in a row. */
async function untilStable(value: () => number): Promise<void> {
  let last = value();
  for (let stable = 0, turns = 0; stable < 50; turns++) {
    if (turns > 20_000) throw new Error('never stable');
    await turn();
    const now = value();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

interface Attempt {
  readonly stateAtCall: string;
  readonly outcome: 'resolved' | 'rejected' | 'false' | 'true';
  readonly error?: unknown;
}

/** 8 producers (one of them through `trySend`) that send until the channel refuses. */
async function produceUntilClosed(
  channel: Channel,
): Promise<{ attempts: Attempt[]; thrown: unknown[] }> {
  const attempts: Attempt[] = [];
  const thrown: unknown[] = [];
  const producers = Array.from({ length: 8 }, async (_, p) => {
    for (let i = 0; ; i++) {
      const stateAtCall = channel.state;
      try {
        if (p === 7) {
          const ok = channel.trySend(`t:${i}`);
          attempts.push({ stateAtCall, outcome: ok ? 'true' : 'false' });
          if (!ok && channel.state === 'closed') return;
        } else {
          const sent = channel.send(`${p}:${i}`);
          try {
            await sent;
            attempts.push({ stateAtCall, outcome: 'resolved' });
          } catch (error) {
            attempts.push({ stateAtCall, outcome: 'rejected', error });
            return;
          }
        }
      } catch (error) {
        thrown.push(error);
        return;
      }
      await turn();
    }
  });
  await withTimeout(Promise.all(producers), 3000, 'producers stop');
  return { attempts, thrown };
}

/** Checks the CL-01 contract on what the producers saw. */
function expectRefusedAfterOpen(attempts: Attempt[], closeCode: number): void {
  for (const attempt of attempts) {
    if (attempt.stateAtCall !== 'open') expect(['rejected', 'false']).toContain(attempt.outcome);
    if (attempt.outcome === 'rejected') {
      expect(attempt.error).toBeInstanceOf(ChannelClosedError);
      // The rejection carries the close code (wslane's error has no separate initiator field).
      expect((attempt.error as ChannelClosedError).closeCode).toBe(closeCode);
    }
  }
  expect(attempts.filter((a) => a.outcome === 'rejected')).toHaveLength(7);
}

/** Producers send on a channel whose wire peer leaves (by `leave`) part-way through. */
async function produceWhilePeerLeaves(leave: (peer: WireClient) => void) {
  const probe = createProbe();
  const server = await startHubServer({ '/cl': probe.route });
  const client = await openWire(server.url('/cl'));
  const channel = await probe.channel();
  // The peer leaves after a random number of messages (1–500), not after a sleep.
  const leaveAfter = 1 + Math.floor(Math.random() * 500);
  let seen = 0;
  client.onFrame = (frame) => {
    if (frame.opcode < 0x8 && ++seen === leaveAfter) leave(client);
  };
  return { client, ...(await produceUntilClosed(channel)) };
}

describe('CL: sends after close and during closing', () => {
  it('CL-01 the peer closes while producers are sending (close frame)', async () => {
    const { client, attempts, thrown } = await produceWhilePeerLeaves((peer) => {
      void peer.close(4000, 'client leaves');
    });
    expect(thrown).toEqual([]);
    expectRefusedAfterOpen(attempts, 4000);
    await client.waitEnded();
    // No data frame after the server's close frame (toMessages throws on one).
    toMessages(client.frames);
    expect(client.frames.at(-1)?.opcode).toBe(OP.close);
    expect(closeCodeOf(client.frames.at(-1) as WireFrame)).toBe(4000);
  });

  it('CL-01 the peer closes while producers are sending (TCP reset)', async () => {
    const { attempts, thrown } = await produceWhilePeerLeaves((peer) => peer.reset());
    expect(thrown).toEqual([]);
    expectRefusedAfterOpen(attempts, 1006);
  });

  it('CL-02 fire-and-forget sends after close never crash', async () => {
    let unhandled = 0;
    const countUnhandled = (): void => {
      unhandled++;
    };
    process.on('unhandledRejection', countUnhandled);
    try {
      const probe = createProbe();
      const server = await startHubServer({ '/cl': probe.route });
      const client = await connect(server.url('/cl'));
      const channel = await probe.channel();
      const closing = channel.close(4000, 'done');
      // While closing, then once closed: 5,000 each, nobody awaits or catches them.
      for (let i = 0; i < 5000; i++) void channel.send(`closing ${i}`);
      for (let i = 0; i < 50; i++) void channel.sendStream([`a${i}`, `b${i}`]);
      await closing;
      await client.waitClosed();
      for (let i = 0; i < 5000; i++) void channel.send(`closed ${i}`);
      for (let i = 0; i < 50; i++) void channel.sendStream([`a${i}`, `b${i}`]);
      expect(channel.trySend('closed')).toBe(false);
      // Unhandled rejections are reported after the microtask queue drains: give it two turns.
      await turn();
      await turn();
      expect(unhandled).toBe(0);
      // Whoever does await one still gets the rejection.
      await expect(channel.send('awaited')).rejects.toMatchObject({
        code: 'WSLANE_CHANNEL_CLOSED',
        closeCode: 4000,
      });
      await expect(channel.sendStream(['x'])).rejects.toBeInstanceOf(ChannelClosedError);
    } finally {
      process.off('unhandledRejection', countUnhandled);
    }
  });

  for (const ending of ['close', 'terminate'] as const) {
    it(`CL-03 graceful close flushes; terminate discards (${ending})`, async () => {
      const probe = createProbe();
      const server = await startHubServer(
        { '/cl': probe.route },
        { backpressure: { highWaterMark: '16kb', maxBufferedBytes: '64mb' } },
      );
      const client = await openWire(server.url('/cl'));
      const channel = await probe.channel();
      // A slow client: it reads nothing until the server has decided.
      client.pause();
      const payload = 'x'.repeat(16 * 1024);
      const sends = Array.from({ length: 1000 }, (_, i) => channel.send(`${i}:${payload}`));
      const handed = new Set<number>();
      sends.forEach(
        (send, i) =>
          void send.then(
            () => handed.add(i),
            () => {},
          ),
      );
      await turn();
      expect(channel.stats.bufferedBytes).toBeGreaterThan(1024 * 1024);
      if (ending === 'close') {
        const closed = channel.close(1000, 'done');
        client.resume();
        await expect(Promise.all(sends)).resolves.toEqual(new Array(1000).fill(true));
        await withTimeout(closed, 3000, 'graceful close');
        await client.waitEnded(3000);
        const messages = toMessages(client.frames).map((m) =>
          Number(m.payload.toString().split(':')[0]),
        );
        expect(messages).toEqual([...Array(1000).keys()]);
        expect(closeCodeOf(client.frames.at(-1) as WireFrame)).toBe(1000);
      } else {
        const handedBefore = handed.size;
        channel.terminate();
        const results = await withTimeout(Promise.allSettled(sends), 2000, 'every send settles');
        const resolved = results.filter((r) => r.status === 'fulfilled').length;
        expect(resolved).toBe(handedBefore);
        expect(1000 - resolved).toBeGreaterThan(0);
        for (const result of results.slice(resolved)) {
          expect((result as PromiseRejectedResult).reason).toBeInstanceOf(ChannelClosedError);
        }
        client.resume();
        await client.waitEnded();
        // The peer gets at most what was handed to the socket, in order, and no close frame.
        const received = toMessages(client.frames).map((m) =>
          Number(m.payload.toString().split(':')[0]),
        );
        expect(received).toEqual([...Array(received.length).keys()]);
        expect(received.length).toBeLessThanOrEqual(resolved);
        expect(client.closeFrame).toBeUndefined();
      }
    });
  }

  it('CL-04 a peer that never answers the close', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
    const closes: number[] = [];
    const probe = createProbe({
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const closeHandshakeMs = 1000;
    const server = await startHubServer(
      { '/cl': probe.route },
      { timeouts: { closeHandshake: closeHandshakeMs, heartbeat: false, sendStall: false } },
    );
    // The shortest deadline is the close handshake: the clock ticks every 100 ms.
    const tickMs = closeHandshakeMs / 10;
    const client = await openWire(server.url('/cl'), { autoClose: false });
    const channel = await probe.channel();
    let done = false;
    const closed = channel.close(1000, 'bye').then(() => {
      done = true;
    });
    const frame = await client.waitClose();
    expect(closeCodeOf(frame)).toBe(1000);
    await vi.advanceTimersByTimeAsync(closeHandshakeMs - tickMs);
    expect(channel.state).toBe('closing');
    expect(client.isEnded).toBe(false);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2 * tickMs);
    await client.waitEnded();
    await closed;
    // onClose ran with the socket's 'close' (no expect.poll: it would wait on faked time).
    expect(closes).toEqual([1006]);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_CLOSE_TIMEOUT']);
    expect(server.hub.stats()).toMatchObject({ active: 0, released: 1, timers: 0 });
  });

  it('CL-05 the first write after the peer vanished: queued sends reject, none resolves as sent', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/cl': probe.route },
      { backpressure: { highWaterMark: '16kb', maxBufferedBytes: '64mb' } },
    );
    const client = await openWire(server.url('/cl'));
    const channel = await probe.channel();
    client.pause();
    const payload = Buffer.alloc(16 * 1024);
    const sends = Array.from({ length: 1000 }, () => channel.send(payload));
    const handed = new Set<number>();
    sends.forEach(
      (send, i) =>
        void send.then(
          () => handed.add(i),
          () => {},
        ),
    );
    // Wait until the kernel buffers are full: then no write of the server completes any more,
    // and whatever resolves after the reset was handed to a socket already known to be dead.
    await untilStable(() => handed.size);
    const handedBeforeReset = new Set(handed);
    expect(handedBeforeReset.size).toBeLessThan(1000);
    // The peer vanishes; the server still believes the socket is alive for a moment.
    client.reset();
    const results = await withTimeout(Promise.allSettled(sends), 2000, 'every send settles');
    const resolvedLate = results.flatMap((result, i) =>
      result.status === 'fulfilled' && !handedBeforeReset.has(i) ? [i] : [],
    );
    // ws's write callbacks after the reset must not count as hand-offs to a live socket.
    expect(resolvedLate).toEqual([]);
    for (const [i, result] of results.entries()) {
      if (handedBeforeReset.has(i)) continue;
      expect((result as PromiseRejectedResult).reason).toMatchObject({
        code: 'WSLANE_CHANNEL_CLOSED',
        closeCode: 1006,
      });
    }
    await expect.poll(() => channel.state).toBe('closed');
    await expect(channel.send(payload)).rejects.toBeInstanceOf(ChannelClosedError);
  });

  it('CL-06 network errors are events, not crashes (EPIPE / ECONNRESET during writes)', async () => {
    const { logger, lines } = recordingLogger();
    const closes: number[] = [];
    const probe = createProbe({
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const server = await startHubServer({ '/cl': probe.route }, { logger });
    for (let round = 0; round < 5; round++) {
      const client = await openWire(server.url('/cl'));
      const channel = await probe.channel(round);
      const resetAfter = 1 + round * 37;
      let seen = 0;
      client.onFrame = () => {
        if (++seen === resetAfter) client.reset();
      };
      while (channel.state === 'open') {
        channel.trySend(Buffer.alloc(4096, round));
        await turn();
      }
      await expect.poll(() => channel.state).toBe('closed');
    }
    await expect.poll(() => closes).toEqual([1006, 1006, 1006, 1006, 1006]);
    expect(probe.errors.length).toBeLessThanOrEqual(5);
    // Resets are expected network events: nothing at warn or error level.
    expect(lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    const after = await connect(server.url('/cl'));
    await after.close();
  });

  it('CL-06 network errors are events, not crashes (TLS error mid-stream)', async () => {
    const { logger, lines } = recordingLogger();
    const closes: number[] = [];
    const probe = createProbe({
      onMessage: (message, channel) => channel.send(message),
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const hub = createHub({ logger });
    const server = createHttpsServer(TLS_FIXTURE);
    hub.attach(server as unknown as Server, { '/cl': probe.route });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const tcp = connectTcp(port, '127.0.0.1');
    tcp.on('error', () => {});
    try {
      const tls = connectTls({ socket: tcp, rejectUnauthorized: false });
      const client = await WireClient.open(`wss://127.0.0.1:${port}/cl`, {
        socket: tls as unknown as Socket,
      });
      await client.send('over tls');
      await client.waitFor((f) => f.payload.toString() === 'over tls');
      // Bytes that are no TLS record, straight into the TCP stream under the TLS session.
      tcp.write(Buffer.from('this is not a TLS record\r\n'.repeat(10)));
      await client.waitEnded();
      await expect.poll(() => closes).toEqual([1006]);
      expect(probe.errors.length).toBeLessThanOrEqual(1);
      expect(lines.filter((l) => l.level === 'error')).toEqual([]);
      expect(hub.stats()).toMatchObject({ active: 0, pending: 0 });
    } finally {
      tcp.destroy();
      await hub.close({ timeout: 500 });
      expect(hub.stats()).toMatchObject({ active: 0, pending: 0, timers: 0 });
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('CL-06 network errors are events, not crashes (socket error before the upgrade completes)', async () => {
    const { logger, lines } = recordingLogger();
    const gate = deferred();
    const reached = deferred();
    const probe = createProbe();
    const server = await startHubServer(
      {
        '/cl': {
          route: probe.route,
          context: async () => {
            reached.resolve();
            await gate.promise;
            return {};
          },
        },
      },
      { logger },
    );
    const sockets: Socket[] = [];
    server.server.on('connection', (socket: Socket) => sockets.push(socket));
    const { port } = server.server.address() as AddressInfo;
    const tcp = connectTcp(port, '127.0.0.1');
    tcp.on('error', () => {});
    tcp.write(upgradeRequest({ path: '/cl', host: `127.0.0.1:${port}` }).text);
    await withTimeout(reached.promise, 2000, 'auth reached');
    const serverSide = sockets[0] as Socket;
    const serverClosed = new Promise((resolve) => serverSide.once('close', resolve));
    tcp.resetAndDestroy();
    await withTimeout(serverClosed, 2000, 'server sees the reset');
    gate.resolve();
    await expect.poll(() => server.hub.stats().pending).toBe(0);
    expect(server.hub.stats()).toMatchObject({ created: 0, active: 0 });
    expect(serverSide.bytesWritten).toBe(0);
    expect(lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('CL-07 stale handles after release', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/cl': probe.route });
    const first = await connect(server.url('/cl'));
    const stale = await probe.channel();
    await first.close();
    await expect.poll(() => stale.state).toBe('closed');
    // 1,000 more channels open and close, so any pooled object would have been reused.
    for (let batch = 0; batch < 10; batch++) {
      const clients = await Promise.all(
        Array.from({ length: 100 }, () => connect(server.url('/cl'))),
      );
      await Promise.all(clients.map((c) => c.close()));
    }
    const live: TestClient[] = await Promise.all(
      Array.from({ length: 10 }, () => connect(server.url('/cl'))),
    );
    await expect.poll(() => server.hub.stats().active).toBe(10);
    await expect(stale.send('stale')).rejects.toBeInstanceOf(ChannelClosedError);
    expect(stale.trySend('stale')).toBe(false);
    for (const channel of probe.channels.slice(-10)) await channel.send('marker');
    for (const client of live) expect(await client.next()).toBe('marker');
    const ids = probe.channels.map((channel) => channel.id);
    expect(ids).toHaveLength(1011);
    expect(new Set(ids).size).toBe(1011);
    await Promise.all(live.map((c) => c.close()));
  });

  it('CL-08 inbound data received before a write error is still delivered', async () => {
    const gate = deferred();
    const handled: string[] = [];
    const onClose: { code: number; handledBefore: number }[] = [];
    const probe = createProbe({
      onMessage: async (message) => {
        handled.push(String(message));
        if (message === 'hold') await gate.promise;
      },
      onClose: (_channel, code) => {
        onClose.push({ code, handledBefore: handled.length });
      },
    });
    const server = await startHubServer(
      { '/cl': probe.route },
      { backpressure: { highWaterMark: '16kb', maxBufferedBytes: '64mb' } },
    );
    const client = await openWire(server.url('/cl'));
    const channel = await probe.channel();
    await client.send('hold');
    await expect.poll(() => handled).toEqual(['hold']);
    // The server is writing when the peer leaves: its bytes pile up in the lane.
    client.pause();
    const sends = Array.from({ length: 500 }, () => channel.send(Buffer.alloc(16 * 1024)));
    await client.send('final');
    await client.close(1000, 'bye');
    await expect.poll(() => channel.stats.messagesIn).toBe(2);
    // Then the connection dies under the server's writes.
    client.reset();
    await expect.poll(() => channel.state).toBe('closed');
    const results = await withTimeout(Promise.allSettled(sends), 2000, 'sends settle');
    expect(results.some((r) => r.status === 'rejected')).toBe(true);
    expect(onClose).toEqual([]);
    gate.resolve();
    await expect.poll(() => onClose.length).toBe(1);
    expect(handled).toEqual(['hold', 'final']);
    expect(onClose[0]?.handledBefore).toBe(2);
  });
});
