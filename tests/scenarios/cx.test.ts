import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { type Channel, ChannelClosedError, isWslaneError } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createProbe, deferred, stuckProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { turn } from './helpers/event-loop.js';

const start = useHubServers();
const slowServers: Server[] = [];
afterEach(async () => {
  for (const server of slowServers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const KiB = 1024;

/** An HTTP server that takes requests and never answers them. */
async function startSlowServer(): Promise<{ url: string; open: () => number }> {
  let open = 0;
  const server = createServer(() => {});
  server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  slowServers.push(server);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/slow`, open: () => open };
}

/** Sends 64 KiB messages until one of them stays pending (the lane is over highWaterMark). */
async function sendUntilPending(channel: Channel): Promise<{ send: Promise<boolean> }> {
  for (;;) {
    const send = channel.send(Buffer.alloc(64 * KiB));
    const state = await Promise.race([send.then(() => 'sent'), turn().then(() => 'pending')]);
    // Wrapped: an async function returning the promise itself would wait for it.
    if (state === 'pending') return { send };
  }
}

describe('CX: cancellation', () => {
  it('CX-01 one signal reaches every task of the channel: it aborts once and all settle at once', async () => {
    const slow = await startSlowServer();
    const settledAt: Record<string, number> = {};
    const outcomes: Record<string, unknown> = {};
    let abortedAt = 0;
    let aborts = 0;
    let reason: unknown;
    const started = deferred();
    const probe = createProbe({
      onMessage: async (_m, channel) => {
        const { signal } = channel;
        signal.addEventListener('abort', () => {
          aborts++;
          abortedAt = performance.now();
          reason = signal.reason;
        });
        const track = (name: string, task: Promise<unknown>): Promise<void> =>
          task.then(
            (value) => {
              outcomes[name] = value;
            },
            (error: unknown) => {
              outcomes[name] = error;
              settledAt[name] = performance.now();
            },
          );
        const timer = track('timer', delay(60_000, undefined, { signal }));
        const fetched = track('fetch', fetch(slow.url, { signal }));
        await expect.poll(() => slow.open()).toBe(1);
        const drain = track('drain', (await sendUntilPending(channel)).send);
        started.resolve();
        await Promise.all([timer, fetched, drain]);
      },
    });
    const server = await start({ '/t': probe.route }, { backpressure: { highWaterMark: '64kb' } });
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    client.ws.pause();
    client.ws.send('start');
    await started.promise;
    // The peer disconnects without a close frame.
    client.ws.terminate();
    await expect.poll(() => Object.keys(outcomes).sort()).toEqual(['drain', 'fetch', 'timer']);
    expect(aborts).toBe(1);
    expect(reason).toBeInstanceOf(ChannelClosedError);
    expect((reason as ChannelClosedError).closeCode).toBe(1006);
    // The timer and the fetch reject with the signal's reason (the timer wraps it as a cause).
    const byReason = (error: unknown): boolean =>
      error === reason || (error as Error | undefined)?.cause === reason;
    expect([byReason(outcomes.timer), byReason(outcomes.fetch)]).toEqual([true, true]);
    // The lane wait rejects too: its message never reached the vanished peer.
    expect(outcomes.drain).toBeInstanceOf(ChannelClosedError);
    expect(Object.keys(settledAt).sort()).toEqual(['drain', 'fetch', 'timer']);
    for (const at of Object.values(settledAt)) expect(at - abortedAt).toBeLessThan(50);
    await expect.poll(() => channel.state).toBe('closed');
    expect(server.hub.stats()).toMatchObject({ active: 0, timers: 0 });
  });

  it('CX-02 work that ignores the signal: its late send rejects, close resolves, nothing is reported', async () => {
    const finish = deferred();
    const late: { send?: unknown; close?: string } = {};
    const closes: number[] = [];
    const probe = createProbe({
      onMessage: async (_m, channel) => {
        // Ignores channel.signal and carries on after the peer left (released by the test
        // instead of 2 s later: the order of events is what matters).
        await finish.promise;
        late.send = await channel.send('too late').catch((error: unknown) => error);
        await channel.close(4000, 'done');
        late.close = channel.state;
      },
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const server = await start({ '/t': probe.route });
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    client.ws.send('work');
    await expect.poll(() => channel.stats.messagesIn).toBe(1);
    client.ws.close(1000, 'bye');
    await client.waitClosed();
    await expect.poll(() => channel.state).toBe('closed');
    // onClose waits for the handler that is still running.
    expect(closes).toEqual([]);
    finish.resolve();
    await expect.poll(() => late.close).toBe('closed');
    expect(late.send).toBeInstanceOf(ChannelClosedError);
    expect((late.send as ChannelClosedError).closeCode).toBe(1000);
    expect(probe.errors).toEqual([]);
    await expect.poll(() => closes).toEqual([1000]);
  });

  it('CX-03 cancelling one queued send does not touch the connection; a half-written stream closes 1011', async () => {
    // wslane's send takes no AbortSignal; its equivalent is a stream whose source the
    // application aborts. Aborted before its first frame it only rejects itself (a queued
    // send, cancelled); aborted after, the peer holds half a message (FR-02).
    const probe = createProbe();
    const server = await start(
      { '/t': probe.route },
      { backpressure: { highWaterMark: '64kb', maxBufferedBytes: '16mb' } },
    );
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    client.ws.pause();
    const { send: ahead } = await sendUntilPending(channel);
    const queued = new AbortController();
    async function* cancellable(signal: AbortSignal) {
      signal.throwIfAborted();
      yield 'never';
    }
    const cancelled = channel.sendStream(cancellable(queued.signal));
    const behind = channel.send('behind');
    queued.abort();
    client.ws.resume();
    const failure = await cancelled.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(isWslaneError(failure) && failure.code).toBe('WSLANE_STREAM_FAILED');
    expect(((failure as Error).cause as Error).name).toBe('AbortError');
    await expect(ahead).resolves.toBe(true);
    await expect(behind).resolves.toBe(true);
    expect(channel.state).toBe('open');
    const messages: unknown[] = [];
    while (messages.at(-1) !== 'behind') messages.push(await client.next());
    expect(messages.filter((m) => m === 'never')).toEqual([]);

    const writing = new AbortController();
    const twoFramesOut = deferred();
    async function* halfWritten(signal: AbortSignal) {
      yield 'part 1';
      yield 'part 2';
      yield 'part 3';
      twoFramesOut.resolve();
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
      signal.throwIfAborted();
    }
    const stream = channel.sendStream(halfWritten(writing.signal));
    const after = channel.send('after');
    await twoFramesOut.promise;
    writing.abort();
    await expect(stream).rejects.toMatchObject({ code: 'WSLANE_STREAM_FAILED' });
    await expect(after).rejects.toBeInstanceOf(ChannelClosedError);
    expect((await client.waitClosed()).code).toBe(1011);
  });

  it('CX-04 close() is bounded by the close deadline, whatever a handler or the peer does', async () => {
    const { probe, stuck, closes } = stuckProbe();
    const server = await start(
      { '/t': probe.route },
      { timeouts: { heartbeat: false, sendStall: false, closeHandshake: 300 } },
    );
    const client = await connect(server.url('/t'));
    const channel = await probe.channel();
    client.ws.send('stuck');
    await expect.poll(() => channel.stats.messagesIn).toBe(1);
    client.ws.pause();
    const startedAt = performance.now();
    await channel.close(1000, 'bye');
    const elapsed = performance.now() - startedAt;
    // Terminated at the deadline (ticks of 30 ms), without waiting for the stuck handler.
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(300 + 500);
    expect(channel.state).toBe('closed');
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_CLOSE_TIMEOUT']);
    expect(closes).toEqual([]);
    stuck.resolve();
    await expect.poll(() => closes.length).toBe(1);
    client.ws.resume();
    await client.waitClosed();
  });
});
