import { type Channel, ChannelClosedError } from '@wslane/core';
import { connect, withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { handedSends, openPausedChannel } from './helpers/cl-paused-channel.js';
import { turn } from './helpers/event-loop.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import type { WireClient } from './helpers/wire-client.js';
import { closeCodeOf, OP, toMessages, type WireFrame } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

afterEach(() => {
  vi.useRealTimers();
});

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
      // A slow client: it reads nothing until the server has decided.
      const { client, channel } = await openPausedChannel(startHubServer, openWire);
      const payload = 'x'.repeat(16 * 1024);
      const sends = Array.from({ length: 1000 }, (_, i) => channel.send(`${i}:${payload}`));
      const handed = handedSends(sends);
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
});
