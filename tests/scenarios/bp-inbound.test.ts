import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { HubOptions, RawMessage } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ChannelProbe, createProbe, deferred, stuckProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { acceptedSockets } from './helpers/accepted-sockets.js';
import { KiB, message, numberOf } from './helpers/bp-messages.js';
import { turn } from './helpers/event-loop.js';
import { untilIo, useFakeClock } from './helpers/fake-clock.js';

const start = useHubServers();
// Registered last so it runs first: timers are real again before servers close.
afterEach(() => {
  vi.useRealTimers();
});

/**
 * A channel of `route` whose reads are paused by its own inbound queue (4 deep): its client sent
 * 2,000 messages of 2 KiB at once and the server's socket stopped reading.
 */
async function pausedChannel(
  probe: ChannelProbe<RawMessage, RawMessage>,
  timeouts: NonNullable<HubOptions['timeouts']>,
  clientOptions?: Parameters<typeof connect>[1],
) {
  const server = await start(
    { '/t': probe.route },
    { limits: { inboundQueue: 4, rateLimit: false }, timeouts },
  );
  const sockets = acceptedSockets(server.server);
  const client = await connect(server.url('/t'), clientOptions);
  const channel = await probe.channel();
  for (let n = 0; n < 2000; n++) client.ws.send(message(n, 2 * KiB));
  await untilIo(() => sockets[0]?.isPaused() === true, 'reads paused');
  return { client, channel, socket: sockets[0] as Socket };
}

describe('BP: inbound floods and paused reads', () => {
  it('BP-04 an inbound flood with a slow handler: bounded queue, TCP backpressure, no heartbeat kill', async () => {
    // Scaled from 100,000 messages and a 5 ms handler to 1,000 × 8 KiB and a 1 ms handler:
    // 8 MiB, more than the loopback kernel buffers take, so the client's socket holds the rest.
    const inboundQueue = 16;
    const count = 1000;
    const handled: number[] = [];
    let maxDepth = 0;
    let sawPaused = false;
    let serverSocket: Socket | undefined;
    const probe = createProbe({
      onMessage: async (m, channel) => {
        maxDepth = Math.max(maxDepth, channel.stats.messagesIn - handled.length);
        sawPaused ||= serverSocket?.isPaused() === true;
        handled.push(numberOf(m));
        await delay(1);
      },
    });
    const server = await start(
      { '/t': probe.route },
      {
        limits: { inboundQueue, rateLimit: false },
        timeouts: { heartbeat: { interval: 100, timeout: 200 }, sendStall: false },
      },
    );
    const sockets = acceptedSockets(server.server);
    const client = await connect(server.url('/t'));
    serverSocket = sockets[0];
    const channel = await probe.channel();
    for (let n = 0; n < count; n++) client.ws.send(message(n, 8 * KiB));
    // TCP backpressure reaches the client: its own socket holds what the server did not read.
    expect(client.ws.bufferedAmount).toBeGreaterThan(0);
    await expect.poll(() => handled.length, { timeout: 4000 }).toBe(count);
    expect(handled).toEqual([...Array(count).keys()]);
    expect(sawPaused).toBe(true);
    expect(serverSocket?.isPaused()).toBe(false);
    // ws parses what one socket read (up to 64 KiB) already holds after pause(): the queue may
    // pass inboundQueue by those messages, never more.
    expect(maxDepth).toBeLessThanOrEqual(inboundQueue + (64 * KiB) / (8 * KiB));
    expect(channel.state).toBe('open');
    expect(probe.errors).toEqual([]);
    await client.close();
  });

  it('BP-04 a flood before onOpen finished pauses reads instead of closing (pre-open overflow)', async () => {
    const opened = deferred();
    const handled: number[] = [];
    const probe = createProbe({
      onOpen: () => opened.promise,
      onMessage: (m) => {
        handled.push(numberOf(m));
      },
    });
    const server = await start(
      { '/t': probe.route },
      { limits: { inboundQueue: 16, rateLimit: false } },
    );
    const sockets = acceptedSockets(server.server);
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    for (let n = 0; n < 1000; n++) client.ws.send(message(n, 8 * KiB));
    await expect.poll(() => sockets[0]?.isPaused()).toBe(true);
    for (let i = 0; i < 5; i++) await turn();
    // The queue's 16, plus what one 64 KiB socket read held when reads paused.
    expect(channel.stats.messagesIn).toBeLessThanOrEqual(16 + 8);
    expect(channel.state).toBe('open');
    expect(handled).toEqual([]);
    opened.resolve();
    await expect.poll(() => handled.length, { timeout: 4000 }).toBe(1000);
    expect(handled).toEqual([...Array(1000).keys()]);
    await client.close();
  });

  it('BP-04 while reads are paused the heartbeat and idle wait; they run again once reads resume', async () => {
    useFakeClock();
    const stuck = deferred();
    const probe = createProbe({ onMessage: () => stuck.promise });
    const { client, channel } = await pausedChannel(
      probe,
      {
        heartbeat: { interval: 500, timeout: 500 },
        idle: 2000,
        sendStall: false,
        closeHandshake: 1000,
      },
      { autoPong: false },
    );
    let pings = 0;
    client.ws.on('ping', () => pings++);
    // Ten heartbeat periods and five idle periods: the server is the slow side, nothing fires
    // (handlerStall, 60 s by default, is the pause's own bound).
    await vi.advanceTimersByTimeAsync(10_000);
    expect(channel.state).toBe('open');
    expect(pings).toBe(0);
    expect(probe.errors).toEqual([]);
    stuck.resolve();
    await untilIo(() => channel.stats.messagesIn === 2000, 'the flood handled');
    // Back to normal: the unanswered heartbeat ends it one interval + timeout later.
    await vi.advanceTimersByTimeAsync(1_100);
    await untilIo(() => channel.state === 'closed', 'heartbeat after resume');
    expect(pings).toBe(1);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
    vi.useRealTimers();
    client.ws.terminate();
  });

  it('BP-04 a hung handler that keeps reads paused is closed with 1011 after handlerStall', async () => {
    useFakeClock();
    const { probe, stuck, closes } = stuckProbe();
    const { client, channel } = await pausedChannel(probe, {
      heartbeat: false,
      sendStall: false,
      handlerStall: 2000,
      closeHandshake: 1000,
    });
    await vi.advanceTimersByTimeAsync(1900);
    expect(channel.state).toBe('open');
    await vi.advanceTimersByTimeAsync(200);
    expect(channel.state).not.toBe('open');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_HANDLER_STALLED']);
    vi.useRealTimers();
    // Reads resume for the close handshake, so the peer gets the close frame at once.
    expect((await client.waitClosed()).code).toBe(1011);
    // onClose follows the last handler call: it runs once the hung one gives up.
    expect(closes).toEqual([]);
    stuck.resolve();
    await expect.poll(() => closes).toEqual([1011]);
  });

  it('BP-04 a slow handler that keeps finishing calls is not cut by handlerStall', async () => {
    useFakeClock();
    const calls: (() => void)[] = [];
    const probe = createProbe({
      onMessage: () => new Promise<void>((resolve) => calls.push(resolve)),
    });
    const { client, channel, socket } = await pausedChannel(probe, {
      heartbeat: false,
      sendStall: false,
      handlerStall: 2000,
    });
    // One call finishes every 1.5 s, under handlerStall: five of them, 7.5 s paused in all.
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(1500);
      expect(channel.state).toBe('open');
      await untilIo(() => calls.length > i, 'a handler call running');
      calls[i]?.();
      await untilIo(() => calls.length > i + 1, 'the next call started');
      expect(socket.isPaused()).toBe(true);
    }
    expect(probe.errors).toEqual([]);
    vi.useRealTimers();
    client.ws.terminate();
  });

  it('BP-04 a channel closed while its reads are paused still completes the close handshake', async () => {
    const { probe, stuck, closes } = stuckProbe();
    const { client, channel } = await pausedChannel(probe, {
      heartbeat: false,
      sendStall: false,
      closeHandshake: 1000,
    });
    const startedAt = performance.now();
    await channel.close(4000, 'bye');
    // The peer answered at once; only a server that never reads it waits for the deadline.
    expect(performance.now() - startedAt).toBeLessThan(500);
    expect(probe.errors).toEqual([]);
    stuck.resolve();
    expect((await client.waitClosed()).code).toBe(4000);
    await expect.poll(() => closes).toEqual([4000]);
  });
});
