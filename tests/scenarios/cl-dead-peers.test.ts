import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { ChannelClosedError, createHub, type Logger } from '@wslane/core';
import { connect, type TestClient, withTimeout } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { handedSends, openPausedChannel } from './helpers/cl-paused-channel.js';
import { TLS_FIXTURE } from './helpers/cl-tls-fixture.js';
import { turn } from './helpers/event-loop.js';
import { upgradeRequest } from './helpers/http-upgrade.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import { WireClient } from './helpers/wire-client.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

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

describe('CL: dead peers, network errors and stale handles', () => {
  it('CL-05 the first write after the peer vanished: queued sends reject, none resolves as sent', async () => {
    const { client, channel } = await openPausedChannel(startHubServer, openWire);
    const payload = Buffer.alloc(16 * 1024);
    const sends = Array.from({ length: 1000 }, () => channel.send(payload));
    const handed = handedSends(sends);
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
