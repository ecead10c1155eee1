import { ChannelClosedError } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

const options = { backpressure: { highWaterMark: 4096 } };

describe('closing a channel', () => {
  it('rejects sends after close with ChannelClosedError and trySend returns false', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/c': probe.route }, options);
    const client = await connect(server.url('/c'));
    const channel = await probe.channel();
    const closing = channel.close(4000, 'bye');
    expect(channel.state).toBe('closing');
    expect(channel.signal.aborted).toBe(true);
    await expect(channel.send('late')).rejects.toBeInstanceOf(ChannelClosedError);
    await expect(channel.send('late')).rejects.toMatchObject({
      code: 'WSLANE_CHANNEL_CLOSED',
      closeCode: 4000,
    });
    expect(channel.trySend('late')).toBe(false);
    // Dropping the promise must not produce an unhandled rejection (the setup fails the run on one).
    void channel.send('ignored');
    await closing;
    expect(channel.state).toBe('closed');
    expect(await client.waitClosed()).toEqual({ code: 4000, reason: 'bye' });
    expect(channel.close()).toBeInstanceOf(Promise);
  });

  it('aborts the signal exactly once', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/c': probe.route }, options);
    const client = await connect(server.url('/c'));
    const channel = await probe.channel();
    let aborts = 0;
    channel.signal.addEventListener('abort', () => aborts++);
    void channel.close();
    void channel.close();
    channel.terminate();
    await client.waitClosed();
    expect(aborts).toBe(1);
  });

  it('flushes queued messages before the close frame on a graceful close', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/c': probe.route }, options);
    const client = await connect(server.url('/c'));
    const channel = await probe.channel();
    const payload = 'x'.repeat(1000);
    const sends = Array.from({ length: 100 }, (_, i) => channel.send(`${i}:${payload}`));
    expect(channel.stats.bufferedBytes).toBeGreaterThan(4096);
    const closed = channel.close(1000, 'done');
    await expect(Promise.all(sends)).resolves.toEqual(new Array(100).fill(true));
    const received = await client.take(100);
    expect(received.map((m) => Number(String(m).split(':')[0]))).toEqual([...Array(100).keys()]);
    expect(await client.waitClosed()).toEqual({ code: 1000, reason: 'done' });
    await closed;
  });

  it('rejects queued messages on terminate', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/c': probe.route }, options);
    const client = await connect(server.url('/c'));
    const channel = await probe.channel();
    const sends = Array.from({ length: 100 }, () => channel.send('y'.repeat(1000)));
    channel.terminate();
    const results = await Promise.allSettled(sends);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected)
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ChannelClosedError);
    expect((await client.waitClosed()).code).toBe(1006);
  });

  it('cuts a long close reason to 123 bytes on a UTF-8 boundary and refuses invalid codes', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/c': probe.route }, options);
    const client = await connect(server.url('/c'));
    const channel = await probe.channel();
    expect(() => channel.close(1006)).toThrow(
      expect.objectContaining({ code: 'WSLANE_INVALID_ARGUMENT' }),
    );
    void channel.close(4000, 'é'.repeat(100));
    const { code, reason } = await client.waitClosed();
    expect(code).toBe(4000);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason).toBe('é'.repeat(61));
  });

  it('reports the peer close code to onClose after the last handler', async () => {
    const closes: number[] = [];
    const probe = createProbe({
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const server = await startHubServer({ '/c': probe.route }, options);
    const client = await connect(server.url('/c'));
    await probe.channel();
    client.ws.close(4321, 'client leaves');
    await client.waitClosed();
    await expect.poll(() => closes).toEqual([4321]);
  });
});
