import { BackpressureError, type OverflowPolicy } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';

const startHubServer = useHubServers();

const MAX = 256 * 1024;
const CHUNK = 16 * 1024;

async function slowConsumer(overflow: OverflowPolicy) {
  const probe = createProbe();
  const server = await startHubServer(
    { '/slow': probe.route },
    { backpressure: { highWaterMark: '16kb', maxBufferedBytes: MAX, overflow } },
  );
  const client = await connect(server.url('/slow'));
  // The client stops reading: the server's kernel buffers fill, then the lane.
  client.ws.pause();
  const channel = await probe.channel();
  return { client, channel };
}

/** Offers numbered 16 KiB messages until `count`, checking the byte cap after every one. */
function flood(
  channel: { trySend(m: Buffer): boolean; stats: { bufferedBytes: number } },
  count: number,
) {
  let maxSeen = 0;
  for (let i = 0; i < count; i++) {
    const message = Buffer.alloc(CHUNK);
    message.writeUInt32BE(i, 0);
    channel.trySend(message);
    maxSeen = Math.max(maxSeen, channel.stats.bufferedBytes);
  }
  return maxSeen;
}

function sequenceOf(messages: (string | Buffer)[]): number[] {
  return messages.map((m) => (m as Buffer).readUInt32BE(0));
}

describe('slow consumer', () => {
  it('closes with 1013 under policy close, never holding more than maxBufferedBytes', async () => {
    const { client, channel } = await slowConsumer('close');
    const maxSeen = flood(channel, 2000);
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    expect(channel.state).not.toBe('open');
    client.ws.resume();
    expect((await client.waitClosed()).code).toBe(1013);
  });

  it('drops the newest messages under drop-newest and delivers an in-order prefix', async () => {
    const { client, channel } = await slowConsumer('drop-newest');
    const maxSeen = flood(channel, 2000);
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    const { dropped } = channel.stats;
    expect(dropped).toBeGreaterThan(0);
    client.ws.resume();
    const received = sequenceOf(await client.take(2000 - dropped));
    expect(received).toEqual([...Array(2000 - dropped).keys()]);
    await client.close();
  });

  it('drops the oldest queued messages under drop-oldest and keeps the latest', async () => {
    const { client, channel } = await slowConsumer('drop-oldest');
    const maxSeen = flood(channel, 2000);
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    const { dropped } = channel.stats;
    expect(dropped).toBeGreaterThan(0);
    client.ws.resume();
    const received = sequenceOf(await client.take(2000 - dropped));
    expect(received.at(-1)).toBe(1999);
    expect([...received].sort((a, b) => a - b)).toEqual(received);
    await client.close();
  });

  it('rejects with BackpressureError under policy reject and keeps the channel open', async () => {
    const { client, channel } = await slowConsumer('reject');
    flood(channel, 2000);
    const refused = channel.send(Buffer.alloc(CHUNK));
    await expect(refused).rejects.toBeInstanceOf(BackpressureError);
    await expect(refused).rejects.toMatchObject({ code: 'WSLANE_QUEUE_FULL' });
    expect(channel.state).toBe('open');
    client.ws.resume();
    await client.close();
  });

  it('paces an awaiting producer by the consumer instead of buffering', async () => {
    const { client, channel } = await slowConsumer('close');
    let sent = 0;
    let maxSeen = 0;
    const producer = (async () => {
      for (; sent < 2000; sent++) {
        await channel.send(Buffer.alloc(CHUNK));
        maxSeen = Math.max(maxSeen, channel.stats.bufferedBytes);
      }
    })();
    // While the client does not read, the producer stalls long before 2,000 messages (32 MiB).
    await expect.poll(() => channel.stats.bufferedBytes, { timeout: 2000 }).toBeGreaterThan(0);
    const stalledAt = sent;
    expect(stalledAt).toBeLessThan(2000);
    client.ws.resume();
    await producer;
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    expect(channel.state).toBe('open');
    await client.take(2000, 5000);
    await client.close();
  });
});
