import { ChannelClosedError } from '@wslane/core';
import { describe, expect, it } from 'vitest';
import { SILENT, WireClient } from '../helpers/wire-client.js';
import { OP } from '../helpers/wire-frames.js';
import { useRawServer } from './raw-harness.js';

const startRawServer = useRawServer();

const MAX = 256 * 1024;
const CHUNK = 16 * 1024;

describe('a peer that stops reading', () => {
  it('never holds more than maxBufferedBytes and closes with the overflow policy, then terminates at the close deadline', async () => {
    const raw = await startRawServer({
      backpressure: { highWaterMark: '16kb', maxBufferedBytes: MAX, overflow: 'close' },
      timeouts: { closeHandshake: 150, heartbeat: false, sendStall: false },
    });
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    client.pause();
    const channel = await raw.probe.channel();
    let maxSeen = 0;
    let offered = 0;
    // 64 MiB offered to a peer that reads nothing: the kernel takes a few MiB, the lane the rest.
    while (channel.state === 'open' && offered < 4096) {
      channel.trySend(Buffer.alloc(CHUNK));
      offered++;
      maxSeen = Math.max(maxSeen, channel.stats.bufferedBytes);
      if (offered % 64 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(channel.state).not.toBe('open');
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    // The 1013 close frame is stuck behind the unread bytes: the close deadline terminates.
    await expect.poll(() => channel.state).toBe('closed');
    expect(raw.probe.errors.map((e) => e.code)).toEqual([
      'WSLANE_QUEUE_FULL',
      'WSLANE_CLOSE_TIMEOUT',
    ]);
    expect(channel.stats.bufferedBytes).toBe(0);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    client.destroy();
    await raw.expectHealthy();
  });

  it('terminates an awaiting producer whose peer stopped reading at sendStall, within maxBufferedBytes', async () => {
    const raw = await startRawServer({
      backpressure: { highWaterMark: '16kb', maxBufferedBytes: MAX },
      timeouts: { sendStall: 150, heartbeat: false },
    });
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    client.pause();
    const channel = await raw.probe.channel();
    let maxSeen = 0;
    let sent = 0;
    let failure: unknown;
    try {
      for (; sent < 100_000; sent++) {
        await channel.send(Buffer.alloc(CHUNK));
        maxSeen = Math.max(maxSeen, channel.stats.bufferedBytes);
      }
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(ChannelClosedError);
    expect(sent).toBeLessThan(100_000);
    expect(maxSeen).toBeLessThanOrEqual(MAX);
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_WRITE_TIMEOUT']);
    await expect.poll(() => channel.state).toBe('closed');
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    client.destroy();
    await raw.expectHealthy();
  });
});

describe('a peer that vanishes without a FIN', () => {
  it('is terminated by the heartbeat when it stops answering pings but keeps its socket', async () => {
    const raw = await startRawServer({ timeouts: { heartbeat: { interval: 50, timeout: 50 } } });
    // A raw client never answers pings: to the server it is a peer that went away silently.
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    const channel = await raw.probe.channel();
    const { close, frames } = await client.outcome();
    expect(close).toBeUndefined(); // terminated, no close frame
    expect(frames.some((frame) => frame.opcode === OP.ping)).toBe(true);
    await expect.poll(() => channel.state).toBe('closed');
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    await raw.expectHealthy();
  });

  it('is terminated by the heartbeat when it reads nothing at all', async () => {
    const raw = await startRawServer({ timeouts: { heartbeat: { interval: 50, timeout: 50 } } });
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    client.pause();
    const channel = await raw.probe.channel();
    await expect.poll(() => channel.state).toBe('closed');
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_HEARTBEAT_TIMEOUT']);
    expect(channel.stats.bufferedBytes).toBe(0);
    client.destroy();
    await raw.expectHealthy();
  });

  it('keeps a silent peer that answers pings (a raw client doing its own pongs)', async () => {
    const raw = await startRawServer({ timeouts: { heartbeat: { interval: 30, timeout: 60 } } });
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    const channel = await raw.probe.channel();
    for (let answered = 0; answered < 5; answered++) {
      const ping = await client.nextFrame();
      expect(ping.opcode).toBe(OP.ping);
      await client.sendFrame({ opcode: OP.pong, payload: ping.payload });
    }
    expect(channel.state).toBe('open');
    expect(raw.probe.errors).toEqual([]);
    client.destroy();
    await raw.expectHealthy();
  });
});
