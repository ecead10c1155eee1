import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../helpers/frame-encoder.js';
import { SILENT, WireClient } from '../helpers/wire-client.js';
import { OP } from '../helpers/wire-frames.js';
import { type RawServer, useRawServer } from './raw-harness.js';

const startRawServer = useRawServer();

async function rawChannel(raw: RawServer): Promise<WireClient> {
  const before = raw.probe.channels.length;
  const client = await WireClient.open(raw.server.url('/raw'), SILENT);
  await raw.probe.channel(before);
  return client;
}

/** One message as `count` frames of `size` bytes each, in one write. */
function fragmented(count: number, size: number, opcode: number = OP.binary): Buffer {
  const frames: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    frames.push(
      encodeFrame({
        opcode: i === 0 ? opcode : OP.continuation,
        payload: Buffer.alloc(size, i % 251),
        fin: i === count - 1,
      }),
    );
  }
  return Buffer.concat(frames);
}

function expectedPayload(count: number, size: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => Buffer.alloc(size, i % 251)));
}

describe('fragmented messages', () => {
  it('accepts 1,000 tiny fragments of one message with the default limits', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.write(fragmented(1000, 3));
    const echo = await client.waitFor((frame) => frame.opcode === OP.binary);
    expect(echo.payload.equals(expectedPayload(1000, 3))).toBe(true);
    const channel = raw.probe.channels[0];
    expect(channel?.stats).toMatchObject({ messagesIn: 1, bytesIn: 3000 });
    expect(channel?.state).toBe('open');
    await client.close();
    expect(await client.closeCode()).toBe(1000);
    await raw.expectHealthy();
  });

  it('closes with 1008 past limits.maxFragments, and accepts a message exactly at it', async () => {
    const raw = await startRawServer({ limits: { maxFragments: 100 } });
    const client = await rawChannel(raw);
    await client.write(fragmented(100, 1));
    expect((await client.waitFor((frame) => frame.opcode === OP.binary)).payload.length).toBe(100);
    await client.write(fragmented(101, 1));
    expect(await client.closeCode()).toBe(1008);
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_FRAME_LIMIT']);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    await raw.expectHealthy();
  });

  it('closes with 1008 on an endless run of empty fragments under the default maxFragments (1024)', async () => {
    const raw = await startRawServer();
    const client = await rawChannel(raw);
    await client.write(fragmented(1025, 0));
    expect(await client.closeCode()).toBe(1008);
    await raw.expectHealthy();
  });

  it('applies a route override of maxFragments to that route only', async () => {
    const raw = await startRawServer({}, { options: { limits: { maxFragments: 10 } } });
    const client = await rawChannel(raw);
    await client.write(fragmented(11, 1));
    expect(await client.closeCode()).toBe(1008);
    // The health route runs with the hub's 1024.
    const other = await WireClient.open(raw.server.url('/health'), SILENT);
    await other.write(fragmented(500, 1));
    expect((await other.waitFor((frame) => frame.opcode === OP.binary)).payload.length).toBe(500);
    other.destroy();
    await raw.expectHealthy();
  });

  it('closes with 1009 when small fragments add up to more than maxPayload', async () => {
    const raw = await startRawServer({ limits: { maxPayload: '4kb' } });
    const client = await rawChannel(raw);
    await client.write(fragmented(5, 1024)); // 5 KiB in 1 KiB frames
    expect(await client.closeCode()).toBe(1009);
    expect(raw.probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    await raw.expectHealthy();
  });
});

describe('trickled frames (limits.maxBufferedChunks)', () => {
  /** The server side of the next TCP connection. */
  function nextServerSocket(raw: RawServer): Promise<Socket> {
    return once(raw.server.server, 'connection').then(([socket]) => socket as Socket);
  }

  /**
   * Writes `bytes` one per TCP read of the server until the server's channel stops being open,
   * checked after each read once the receiver's error (emitted on the next tick) had its turn.
   */
  async function trickle(
    client: WireClient,
    raw: RawServer,
    server: Socket,
    bytes: Buffer,
  ): Promise<number> {
    const channel = raw.probe.channels.at(-1);
    let written = 0;
    for (const byte of bytes) {
      if (channel?.state !== 'open') break;
      const read = once(server, 'data');
      await client.write(Buffer.from([byte]));
      await read;
      await new Promise<void>((resolve) => setImmediate(resolve));
      written++;
    }
    return written;
  }

  it('closes with 1008 once one unfinished frame holds more than maxBufferedChunks reads', async () => {
    const raw = await startRawServer({ limits: { maxBufferedChunks: 8 } });
    const serverSocket = nextServerSocket(raw);
    const client = await rawChannel(raw);
    const frame = encodeFrame({ opcode: OP.binary, payload: Buffer.alloc(100, 7) });
    const header = frame.subarray(0, 6); // 2 bytes + mask key: parsed at once, nothing held
    const socket = await serverSocket;
    const read = once(socket, 'data');
    await client.write(header);
    await read;
    const written = await trickle(client, raw, socket, frame.subarray(6));
    // 8 one-byte reads are held; the 9th is one too many.
    expect(written).toBe(9);
    expect(await client.closeCode()).toBe(1008);
    await expect.poll(() => raw.server.hub.stats().active).toBe(1);
    await raw.expectHealthy();
  });

  it('accepts a trickled frame under the default maxBufferedChunks', async () => {
    const raw = await startRawServer();
    const serverSocket = nextServerSocket(raw);
    const client = await rawChannel(raw);
    const frame = encodeFrame({ opcode: OP.text, payload: 'trickled '.repeat(20) });
    const written = await trickle(client, raw, await serverSocket, frame);
    expect(written).toBe(frame.length);
    expect((await client.waitFor((frame) => frame.opcode === OP.text)).payload.toString()).toBe(
      'trickled '.repeat(20),
    );
    client.destroy();
    await raw.expectHealthy();
  });
});
