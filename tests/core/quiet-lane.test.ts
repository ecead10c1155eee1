import type { Channel } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { untilIo, useFakeClock } from '../scenarios/helpers/fake-clock.js';

const startHubServer = useHubServers();
afterEach(() => {
  vi.useRealTimers();
});

/** The clock ticks once a second with these timeouts (a tenth of the shortest, 10 s). */
const TICK_MS = 1000;

/** Reads the internal flag the lane drop is observed by (OpenChannel.holdsLane). */
function holdsLane(channel: Channel<unknown>): boolean {
  return (channel as unknown as { holdsLane: boolean }).holdsLane;
}

async function openQuietChannel(highWaterMark = '16kb') {
  useFakeClock();
  const probe = createProbe();
  const server = await startHubServer(
    { '/q': probe.route },
    {
      timeouts: {
        heartbeat: { interval: '1h', timeout: '10s' },
        closeHandshake: '10s',
        sendStall: false,
      },
      backpressure: { highWaterMark, maxBufferedBytes: '64mb' },
    },
  );
  const client = await connect(server.url('/q'));
  const channel = await probe.channel();
  return { client, channel };
}

describe('a quiet channel drops its lane', () => {
  it('drops a lane that wrote nothing for a whole tick and goes on counting with the next lane', async () => {
    const { client, channel } = await openQuietChannel();
    expect(holdsLane(channel)).toBe(false);
    await channel.send('one');
    await channel.send('two');
    expect(await client.take(2)).toEqual(['one', 'two']);
    expect(holdsLane(channel)).toBe(true);

    // The first tick sees a lane that wrote in its span; the next one sees a whole quiet span.
    await vi.advanceTimersByTimeAsync(TICK_MS);
    expect(holdsLane(channel)).toBe(true);
    await vi.advanceTimersByTimeAsync(TICK_MS);
    expect(holdsLane(channel)).toBe(false);
    expect(channel.stats).toMatchObject({ messagesOut: 2, bytesOut: 6, bufferedBytes: 0 });

    await channel.send('three');
    expect(holdsLane(channel)).toBe(true);
    expect(await client.take(1)).toEqual(['three']);
    expect(channel.stats).toMatchObject({ messagesOut: 3, bytesOut: 11 });
    await client.close();
  });

  it.each([
    ['in the lane', '16kb'],
    ['in the socket only', '64mb'],
  ])(
    'keeps a lane whose bytes still wait %s, and drops it once the peer has read them',
    async (_where, highWaterMark) => {
      const { client, channel } = await openQuietChannel(highWaterMark);
      client.ws.pause();
      // 32 MiB: more than the kernel buffers of both ends of a loopback connection take.
      const chunk = Buffer.alloc(16 * 1024);
      const offered = 2048;
      for (let i = 0; i < offered; i++) expect(channel.trySend(chunk)).toBe(true);
      await untilIo(() => channel.stats.bufferedBytes > 0, 'bytes wait in the socket');

      await vi.advanceTimersByTimeAsync(TICK_MS);
      expect(holdsLane(channel)).toBe(true);

      client.ws.resume();
      expect((await client.take(offered)).length).toBe(offered);
      await untilIo(() => channel.stats.bufferedBytes === 0, 'the socket drained');
      await vi.advanceTimersByTimeAsync(2 * TICK_MS);
      expect(holdsLane(channel)).toBe(false);
      expect(channel.stats).toMatchObject({
        messagesOut: offered,
        bytesOut: offered * chunk.length,
      });
      await client.close();
    },
  );
});
