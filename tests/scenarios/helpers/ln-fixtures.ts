import type { Channel, Codec } from '@wslane/core';
import type { TestClient } from '@wslane/core/testing';
import { expect } from 'vitest';
import { createProbe } from '../../helpers/channel-probe.js';

/** Records a route received, per channel, with the largest number of handler calls in flight. */
export function recordingProbe<TIn, TOut = string>(codec: Codec<TIn, TOut>, onlyOne = false) {
  const received = new Map<string, TIn[]>();
  let running = 0;
  let maxRunning = 0;
  const probe = createProbe<TIn, TOut>({
    codec,
    onMessage: async (record, channel) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      const list = received.get(channel.id) ?? [];
      list.push(record);
      received.set(channel.id, list);
      // One turn of the event loop inside the handler: a second call would overlap it.
      if (onlyOne) await new Promise<void>((resolve) => setImmediate(resolve));
      running--;
    },
  });
  return {
    probe,
    of: (channel: Channel<TOut>): TIn[] => received.get(channel.id) ?? [],
    get maxRunning() {
      return maxRunning;
    },
  };
}

/** Sends `pieces` as one frame each (binary for Buffers) and waits until the server took them. */
export async function sendFrames(
  client: TestClient,
  channel: Channel<unknown>,
  pieces: (string | Buffer)[],
): Promise<void> {
  const before = channel.stats.bytesIn;
  let bytes = 0;
  for (const piece of pieces) {
    bytes += Buffer.byteLength(piece);
    client.ws.send(piece);
  }
  await expect.poll(() => channel.stats.bytesIn).toBe(before + bytes);
}
