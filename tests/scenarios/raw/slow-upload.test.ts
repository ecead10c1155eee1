import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { encodeFrame } from '../helpers/frame-encoder.js';
import { SILENT, WireClient } from '../helpers/wire-client.js';
import { OP } from '../helpers/wire-frames.js';
import { useRawServer } from './raw-harness.js';

const startRawServer = useRawServer();

const IDLE_MS = 150;
/** Bytes of a message a slow peer sends at a time, and the pause between them. */
const PIECE = 100;
const PAUSE_MS = 25;
/** The deadlines of the abused route only: the harness's health client must outlive them. */
const IDLE_ONLY = { options: { timeouts: { idle: IDLE_MS, heartbeat: false as const } } };

/** Writes `bytes` a piece at a time, pausing between pieces (a slow uplink). */
async function dribble(client: WireClient, bytes: Buffer): Promise<void> {
  for (let offset = 0; offset < bytes.length; offset += PIECE) {
    await client.write(bytes.subarray(offset, offset + PIECE));
    await delay(PAUSE_MS);
  }
}

describe('a message arriving slower than the deadlines', () => {
  it('is never cut by idle or the heartbeat while its bytes keep coming', async () => {
    const raw = await startRawServer(
      {},
      { options: { timeouts: { idle: IDLE_MS, heartbeat: { interval: 60, timeout: 60 } } } },
    );
    // A raw client never answers pings: only the upload itself keeps it alive.
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    const channel = await raw.probe.channel();
    const payload = Buffer.alloc(3000, 7);
    const started = performance.now();
    await dribble(client, encodeFrame({ opcode: OP.binary, payload }));
    // 30 pieces 25 ms apart: the upload outlasts idle and ping + pong timeout several times over.
    expect(performance.now() - started).toBeGreaterThan(3 * IDLE_MS);
    const echo = await client.nextFrame();
    expect(echo.opcode).toBe(OP.binary);
    expect(echo.payload).toEqual(payload);
    expect(channel.state).toBe('open');
    expect(raw.probe.errors).toEqual([]);
    client.destroy();
    await raw.expectHealthy();
  });

  it('meets idle once its bytes stop coming', async () => {
    const raw = await startRawServer({}, IDLE_ONLY);
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    await raw.probe.channel();
    const frame = encodeFrame({ opcode: OP.binary, payload: Buffer.alloc(3000, 7) });
    await dribble(client, frame.subarray(0, 1000));
    const stalledAt = performance.now();
    expect(await client.closeCode()).toBe(4408);
    expect(performance.now() - stalledAt).toBeGreaterThanOrEqual(IDLE_MS - PAUSE_MS);
    await raw.expectHealthy();
  });

  it('does not mistake a peer that only pings for one sending data', async () => {
    const raw = await startRawServer({}, IDLE_ONLY);
    const client = await WireClient.open(raw.server.url('/raw'), SILENT);
    await raw.probe.channel();
    const openedAt = performance.now();
    const closed = client.closeCode();
    const closeFrameArrived = (): boolean => client.frames.some((f) => f.opcode === OP.close);
    let sent = 0;
    // Pings keep coming until the close frame does: idle must close the peer while it pings.
    while (!closeFrameArrived() && performance.now() - openedAt < 10 * IDLE_MS) {
      // Empty and 125-byte pings (the largest payload a control frame may carry).
      await client.sendFrame({ opcode: OP.ping, payload: Buffer.alloc(sent % 2 === 0 ? 0 : 125) });
      sent++;
      await delay(PAUSE_MS);
    }
    expect(closeFrameArrived()).toBe(true);
    expect(await closed).toBe(4408);
    expect(sent).toBeGreaterThan(3);
    await raw.expectHealthy();
  });
});
