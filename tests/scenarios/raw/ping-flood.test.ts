import { once } from 'node:events';
import type { Socket } from 'node:net';
import type { Channel, HubOptions, RawMessage } from '@wslane/core';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../helpers/frame-encoder.js';
import { SILENT, WireClient } from '../helpers/wire-client.js';
import { OP } from '../helpers/wire-frames.js';
import { type RawServer, useRawServer } from './raw-harness.js';

const startRawServer = useRawServer();

/** A pong frame on the wire: 2 header bytes plus the ping's payload. */
const PONG_BYTES = 2 + 125;

async function rawChannelWithSocket(
  raw: RawServer,
): Promise<{ client: WireClient; channel: Channel<RawMessage>; socket: Socket }> {
  const index = raw.probe.channels.length;
  const socket = once(raw.server.server, 'connection').then(([s]) => s as Socket);
  const client = await WireClient.open(raw.server.url('/raw'), SILENT);
  const channel = await raw.probe.channel(index);
  return { client, channel, socket: await socket };
}

/** Lets the event loop run twice: a write the kernel can take is done after it. */
async function ioTurns(): Promise<void> {
  for (let i = 0; i < 2; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * Fills the server's kernel send buffer while the client reads nothing, until bytes stay in the
 * server's own socket buffer: from then on every write (a pong included) waits there.
 */
async function fillServerSocket(channel: Channel<RawMessage>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    channel.trySend(Buffer.alloc(1024 * 1024));
    await ioTurns();
    if (channel.stats.bufferedBytes > 0) return;
  }
  throw new Error('the server socket never filled up');
}

/** Pings one at a time, each read by the server before the next, until the channel is gone. */
async function pingUntilCut(
  client: WireClient,
  channel: Channel<RawMessage>,
  socket: Socket,
  max: number,
): Promise<{ pings: number; maxGrowth: number }> {
  const base = channel.stats.bufferedBytes;
  let maxGrowth = 0;
  let pings = 0;
  // The server terminating the peer destroys its socket at once; the channel hears of it later.
  while (!socket.destroyed && pings < max) {
    const read = once(socket, 'data');
    await client.sendFrame({ opcode: OP.ping, payload: Buffer.alloc(125, pings % 256) });
    await read;
    pings++;
    maxGrowth = Math.max(maxGrowth, channel.stats.bufferedBytes - base);
  }
  return { pings, maxGrowth };
}

const bigBuffers: HubOptions = {
  // Room for the fill-up, so only the pong limit can end the channel.
  backpressure: { highWaterMark: '64mb', maxBufferedBytes: '128mb' },
  timeouts: { heartbeat: false, sendStall: false },
};

describe('ping flood', () => {
  it('answers every ping of a peer that reads its pongs, in order', async () => {
    const raw = await startRawServer();
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    const channel = await raw.probe.channel();
    const count = 10_000;
    const batch = 50; // pipelined pings per write, under the default maxPendingPongs (60)
    for (let sent = 0; sent < count; sent += batch) {
      const pings: Buffer[] = [];
      for (let i = sent; i < sent + batch; i++) {
        const payload = Buffer.alloc(4);
        payload.writeUInt32BE(i, 0);
        pings.push(encodeFrame({ opcode: OP.ping, payload }));
      }
      await client.write(Buffer.concat(pings));
      await client.waitForCount((frame) => frame.opcode === OP.pong, sent + batch);
    }
    const pongs = client.frames.filter((frame) => frame.opcode === OP.pong);
    expect(pongs.map((pong) => pong.payload.readUInt32BE(0))).toEqual([...Array(count).keys()]);
    expect(channel.state).toBe('open');
    expect(channel.stats.bufferedBytes).toBe(0);
    expect(raw.probe.errors).toEqual([]);
    await client.close();
    expect(await client.closeCode()).toBe(1000);
    await raw.expectHealthy();
  });

  it('cuts a burst of more pings than maxPendingPongs in one read, even from a reading peer', async () => {
    const raw = await startRawServer({ limits: { maxPendingPongs: 8 } });
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    const channel = await raw.probe.channel();
    const burst = Array.from({ length: 100 }, () => encodeFrame({ opcode: OP.ping, payload: 'p' }));
    await client.write(Buffer.concat(burst));
    const { close, frames } = await client.outcome();
    expect(close).toBeUndefined(); // terminated: no close frame
    expect(frames.filter((frame) => frame.opcode === OP.pong).length).toBeLessThanOrEqual(8);
    await expect.poll(() => channel.state).toBe('closed');
    expect(raw.probe.errors.map((error) => error.code)).toEqual(['WSLANE_PING_FLOOD']);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    await raw.expectHealthy();
  });

  it('cuts a peer that floods pings without reading the pongs past limits.maxPendingPongs', async () => {
    const raw = await startRawServer({ ...bigBuffers, limits: { maxPendingPongs: 8 } });
    const { client, channel, socket } = await rawChannelWithSocket(raw);
    client.pause();
    await fillServerSocket(channel);
    const { pings, maxGrowth } = await pingUntilCut(client, channel, socket, 200);
    // 8 pongs may wait; the 9th ping finds the limit reached and the peer is terminated.
    expect(pings).toBe(9);
    expect(maxGrowth).toBeLessThanOrEqual(8 * PONG_BYTES);
    await expect.poll(() => channel.state).toBe('closed');
    expect(channel.stats.bufferedBytes).toBe(0);
    expect(raw.probe.errors.map((error) => error.code)).toEqual(['WSLANE_PING_FLOOD']);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    client.destroy();
    await raw.expectHealthy();
  });

  it('cuts such a peer after 60 pending pongs by default', async () => {
    const raw = await startRawServer(bigBuffers);
    const { client, channel, socket } = await rawChannelWithSocket(raw);
    client.pause();
    await fillServerSocket(channel);
    const { pings, maxGrowth } = await pingUntilCut(client, channel, socket, 500);
    expect(pings).toBe(61);
    expect(maxGrowth).toBeLessThanOrEqual(60 * PONG_BYTES);
    await expect.poll(() => channel.state).toBe('closed');
    expect(raw.probe.errors.map((error) => error.code)).toEqual(['WSLANE_PING_FLOOD']);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    client.destroy();
    await raw.expectHealthy();
  });
});
