import { createHash } from 'node:crypto';
import {
  type ChannelClosedError,
  ERROR_OUTCOMES,
  type RawMessage,
  type RouteOptions,
} from '@wslane/core';
import { describe, expect, it } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { encodeFragments, encodeFrame } from './helpers/frame-encoder.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import type { WireClient } from './helpers/wire-client.js';
import { closeCodeOf, OP, type WireFrame } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

/** `<length>:<sha256>` of a message, what the acknowledging routes answer. */
function digestOf(message: RawMessage): string {
  const bytes = typeof message === 'string' ? Buffer.from(message) : message;
  return `${bytes.length}:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A route that answers every message with its digest and counts what reached the handler. */
function ackProbe(options: { options?: RouteOptions } = {}) {
  const seen: string[] = [];
  const probe = createProbe<RawMessage, RawMessage>({
    ...options,
    onMessage: (message, channel) => {
      seen.push(digestOf(message));
      return channel.send(digestOf(message));
    },
  });
  return { probe, seen };
}

/** The frames of one message: `data` cut into fragments of `size` bytes (0 = one frame). */
function fragments(opcode: number, data: Buffer, size: number): Buffer[] {
  if (size === 0 || data.length <= size) return [encodeFrame({ opcode, payload: data })];
  const frames: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) {
    const end = Math.min(data.length, offset + size);
    frames.push(
      encodeFrame({
        opcode: offset === 0 ? opcode : OP.continuation,
        payload: data.subarray(offset, end),
        fin: end === data.length,
      }),
    );
  }
  return frames;
}

/** Waits for the next text frame from index `from` on. */
function nextText(client: WireClient, from: number, ms = 2000): Promise<WireFrame> {
  return client.waitFor((frame) => frame.opcode === OP.text, ms, from);
}

/** Sends `frames` in batches, each followed by a ping, until the server closes; returns how many went out. */
async function sendUntilClosed(client: WireClient, frames: () => Buffer[], batch: number) {
  let sent = 0;
  for (;;) {
    const next = frames();
    if (next.length === 0) return sent;
    for (let i = 0; i < next.length; i += batch) {
      const part = next.slice(i, i + batch);
      const before = client.frames.length;
      await client.write(
        Buffer.concat([...part, encodeFrame({ opcode: OP.ping, payload: 'sync' })]),
      );
      sent += part.length;
      // The pong proves the server read every byte before it; a close ends the run.
      const answer = await client.waitFor(
        (frame) => frame.opcode === OP.pong || frame.opcode === OP.close,
        2000,
        before,
      );
      if (answer.opcode === OP.close) return sent;
    }
  }
}

describe('FR: fragmented (multi-frame) messages', () => {
  it('FR-01 a streamed message is atomic among other producers', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/fr': probe.route });
    const client = await openWire(server.url('/fr'));
    const channel = await probe.channel();
    const frameBytes = 64 * 1024;
    const chunks = Array.from({ length: 160 }, (_, i) => Buffer.alloc(frameBytes, i & 0xff));
    async function* source() {
      for (const chunk of chunks) {
        yield chunk;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const started = deferred();
    const producers = Array.from({ length: 7 }, async (_, p) => {
      for (let i = 0; i < 1000; i++) {
        await channel.send(`${p}:${i}`);
        if (i === 10 && p === 0) started.resolve();
      }
    });
    await started.promise;
    const stream = channel.sendStream(source());
    await Promise.all([stream, ...producers]);
    await client.waitForCount((f) => f.opcode < 0x8 && f.fin, 7001, 4000);
    // Throws if a data frame of another message lands between the streamed message's frames.
    const messages = client.messages();
    const big = messages.filter((m) => m.opcode === OP.binary);
    expect(big).toHaveLength(1);
    expect(big[0]?.frames).toBe(160);
    expect(big[0]?.payload.equals(Buffer.concat(chunks))).toBe(true);
    const texts = messages.filter((m) => m.opcode === OP.text).map((m) => m.payload.toString());
    for (let p = 0; p < 7; p++) {
      expect(texts.filter((t) => t.startsWith(`${p}:`))).toEqual(
        Array.from({ length: 1000 }, (_, i) => `${p}:${i}`),
      );
    }
    // Other producers really sent while the stream was on the wire: before and after it.
    expect(big[0]?.first).toBeGreaterThan(0);
    expect(big[0]?.last).toBeLessThan(client.frames.length - 1);
  });

  it('FR-02 a stream that fails half-way', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/fr': probe.route });
    const client = await openWire(server.url('/fr'));
    const channel = await probe.channel();
    const failure = new Error('source failed');
    async function* broken() {
      for (let i = 0; i < 10; i++) {
        if (i === 3) throw failure;
        yield `part${i};`;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    const stream = channel.sendStream(broken(), { binary: false });
    const behind = Array.from({ length: 5 }, (_, i) => channel.send(`behind${i}`));
    const streamError = await stream.catch((error: unknown) => error);
    expect(streamError).toMatchObject({ code: 'WSLANE_STREAM_FAILED', cause: failure });
    for (const result of await Promise.allSettled(behind)) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toMatchObject({
        code: 'WSLANE_CHANNEL_CLOSED',
        closeCode: 1011,
      });
    }
    const close = await client.waitClose();
    expect(closeCodeOf(close)).toBe(1011);
    await client.waitEnded();
    const data = client.frames.filter((frame) => frame.opcode < 0x8);
    // Only unfinished frames of the broken message: no final frame "completes" it, no other
    // message follows it, nothing follows the close frame.
    expect(data.length).toBeGreaterThan(0);
    expect(data.every((frame) => !frame.fin)).toBe(true);
    expect(data.map((f) => f.opcode)).toEqual([
      OP.text,
      ...data.slice(1).map(() => OP.continuation),
    ]);
    expect(client.frames.at(-1)?.opcode).toBe(OP.close);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_STREAM_FAILED']);
  });

  it('FR-03 a ping in the middle of a large inbound message', async () => {
    const { probe, seen } = ackProbe({ options: { limits: { maxPayload: '16mb' } } });
    const server = await startHubServer({ '/fr': probe.route });
    const client = await openWire(server.url('/fr'));
    const message = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < message.length; i += 4096) message.writeUInt32BE(i, i);
    const frames = fragments(OP.binary, message, 64 * 1024);
    expect(frames).toHaveLength(128);
    const pongs: number[] = [];
    for (const [i, frame] of frames.entries()) {
      await client.write(frame);
      if (i === 3 || i === 100) {
        const before = client.frames.length;
        await client.sendFrame({ opcode: OP.ping, payload: `ping-after-${i}` });
        // The pong arrives while the message is still incomplete on the server.
        const pong = await client.waitFor((f) => f.opcode === OP.pong, 2000, before);
        expect(pong.payload.toString()).toBe(`ping-after-${i}`);
        pongs.push(client.frames.indexOf(pong));
      }
    }
    const ack = await nextText(client, 0, 4000);
    expect(ack.payload.toString()).toBe(digestOf(message));
    expect(pongs).toHaveLength(2);
    expect(client.frames.indexOf(ack)).toBeGreaterThan(Math.max(...pongs));
    expect(seen).toEqual([digestOf(message)]);
  });

  it('FR-04 messages bigger than any internal buffer but under the limit', async () => {
    // The fragment cap of FR-06 is raised so that every cut of the scenario fits under it.
    const { probe, seen } = ackProbe({
      options: { limits: { maxPayload: '1mb', maxFragments: 1024 * 1024 } },
    });
    const server = await startHubServer({ '/fr': probe.route });
    const client = await openWire(server.url('/fr'));
    const sizes = [4095, 4096, 4097, 64 * 1024 + 1, 1024 * 1024];
    const cuts = [0, 1, 100, 16 * 1024];
    for (const size of sizes) {
      const message = Buffer.alloc(size, size & 0xff);
      message.writeUInt32BE(size, 0);
      for (const cut of cuts) {
        const before = client.frames.length;
        await client.write(encodeFragments(OP.binary, message, cut));
        const ack = await nextText(client, before, 3000);
        expect(ack.payload.toString(), `${size} bytes cut every ${cut}`).toBe(digestOf(message));
      }
    }
    expect(seen).toHaveLength(sizes.length * cuts.length);
    // One byte over the limit: 1009, as one frame or fragmented (FR-05).
    for (const cut of [0, 16 * 1024]) {
      const other = await openWire(server.url('/fr'));
      await other.write(encodeFragments(OP.binary, Buffer.alloc(1024 * 1024 + 1), cut));
      expect(closeCodeOf(await other.waitClose(3000))).toBe(1009);
    }
    expect(seen).toHaveLength(sizes.length * cuts.length);
  });

  it('FR-05 the payload limit applies to the whole message, early', async () => {
    const { probe, seen } = ackProbe({ options: { limits: { maxPayload: '1mb' } } });
    const server = await startHubServer({ '/fr': probe.route });
    const client = await openWire(server.url('/fr'));
    const channel = await probe.channel();
    const fragment = 16 * 1024;
    // A 100 MiB message, produced lazily one fragment at a time.
    let produced = 0;
    const total = (100 * 1024 * 1024) / fragment;
    const next = (): Buffer[] => {
      if (produced === total) return [];
      const frame = encodeFrame({
        opcode: produced === 0 ? OP.binary : OP.continuation,
        payload: Buffer.alloc(fragment),
        fin: produced === total - 1,
      });
      produced++;
      return [frame];
    };
    const sent = await sendUntilClosed(client, next, 1);
    // 64 fragments are exactly 1 MiB: the 65th header already passes the limit.
    expect(sent).toBe(65);
    expect(closeCodeOf(client.closeFrame as WireFrame)).toBe(1009);
    expect(seen).toEqual([]);
    expect(probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    expect((channel.signal.reason as ChannelClosedError).closeCode).toBe(1009);
  });

  it('FR-06 many tiny fragments close with 1008 at the configured fragment cap', async () => {
    const probe = createProbe({ onMessage: (message, channel) => channel.send(message) });
    const server = await startHubServer({ '/fr': probe.route });
    // wslane sets ws's fragment cap itself (limits.maxFragments), never leaving it unbounded.
    const cap = server.hub.config.limits.maxFragments;
    expect(cap).toBeGreaterThan(0);
    expect(cap).toBeLessThanOrEqual(16_384);
    const bystander = await openWire(server.url('/fr'));
    for (const fragmentBytes of [1, 0]) {
      const client = await openWire(server.url('/fr'));
      const channel = await probe.channel(probe.channels.length - 1);
      const payload = Buffer.alloc(fragmentBytes, 0x61);
      let produced = 0;
      // One message of 1,000,000 fragments, made 100 at a time.
      const next = (): Buffer[] => {
        if (produced === 1_000_000) return [];
        const batch = Array.from({ length: 100 }, (_, i) =>
          encodeFrame({
            opcode: produced + i === 0 ? OP.binary : OP.continuation,
            payload,
            fin: produced + i === 999_999,
          }),
        );
        produced += 100;
        return batch;
      };
      const echoed = bystander.frames.length;
      await bystander.send('still served');
      const sent = await sendUntilClosed(client, next, 100);
      expect(closeCodeOf(client.closeFrame as WireFrame)).toBe(1008);
      expect(sent).toBeGreaterThan(cap);
      expect(sent).toBeLessThanOrEqual(cap + 100);
      await bystander.waitFor((f) => f.payload.toString() === 'still served', 2000, echoed);
      await client.waitEnded();
      // What the server reports agrees with what it sent: 1008 and an error code mapped to 1008.
      expect((channel.signal.reason as ChannelClosedError).closeCode).toBe(1008);
      const code = probe.errors.at(-1)?.code as keyof typeof ERROR_OUTCOMES;
      expect(ERROR_OUTCOMES[code]?.close).toBe(1008);
    }
    // The closed channel counts until its socket is gone.
    await expect.poll(() => server.hub.stats()).toMatchObject({ active: 1, messagesIn: 2 });
  });

  it('FR-07 UTF-8 across fragment boundaries', async () => {
    const probe = createProbe({ onMessage: (message, channel) => channel.send(message) });
    const server = await startHubServer({ '/fr': probe.route });
    const client = await openWire(server.url('/fr'));
    const text = 'a😀b𝄞c🚀é€';
    const bytes = Buffer.from(text);
    const cuts = [...Array.from({ length: bytes.length - 1 }, (_, i) => [i + 1]), [1]];
    for (const [index, [first]] of cuts.entries()) {
      const frames =
        index === cuts.length - 1
          ? fragments(OP.text, bytes, 1)
          : [
              encodeFrame({ opcode: OP.text, payload: bytes.subarray(0, first), fin: false }),
              encodeFrame({ opcode: OP.continuation, payload: bytes.subarray(first) }),
            ];
      const before = client.frames.length;
      await client.write(Buffer.concat(frames));
      expect((await nextText(client, before)).payload.toString()).toBe(text);
    }
    const invalid = Buffer.concat([bytes.subarray(0, 5), Buffer.from([0xff]), bytes.subarray(5)]);
    const channel = await probe.channel();
    await client.write(
      Buffer.concat([
        encodeFrame({ opcode: OP.text, payload: invalid.subarray(0, 5), fin: false }),
        encodeFrame({ opcode: OP.continuation, payload: invalid.subarray(5) }),
      ]),
    );
    expect(closeCodeOf(await client.waitClose())).toBe(1007);
    await client.waitEnded();
    expect(probe.channels).toHaveLength(1);
    // What the server reports agrees with what it sent: 1007 and an error code mapped to 1007.
    expect((channel.signal.reason as ChannelClosedError).closeCode).toBe(1007);
    const code = probe.errors.at(-1)?.code as keyof typeof ERROR_OUTCOMES;
    expect(ERROR_OUTCOMES[code]?.close).toBe(1007);
  });

  it('FR-08 framing violations close that channel with 1002', async () => {
    const probe = createProbe({ onMessage: (message, channel) => channel.send(message) });
    const server = await startHubServer({ '/fr': probe.route });
    const bystander = await openWire(server.url('/fr'));
    const violations: [string, Buffer][] = [
      [
        'continuation with no message started',
        encodeFrame({ opcode: OP.continuation, payload: 'x' }),
      ],
      [
        'new text frame inside a fragmented message',
        Buffer.concat([
          encodeFrame({ opcode: OP.text, payload: 'a', fin: false }),
          encodeFrame({ opcode: OP.text, payload: 'b' }),
        ]),
      ],
      [
        'ping with a 126-byte payload',
        encodeFrame({ opcode: OP.ping, payload: Buffer.alloc(126) }),
      ],
      ['fragmented ping', encodeFrame({ opcode: OP.ping, payload: 'p', fin: false })],
      ['unmasked client frame', encodeFrame({ opcode: OP.text, payload: 'x', mask: false })],
      [
        'reserved bits without an extension',
        encodeFrame({ opcode: OP.text, payload: 'x', rsv: 0b100 }),
      ],
      ['reserved opcode', encodeFrame({ opcode: 0x3, payload: 'x' })],
    ];
    for (const [name, bytes] of violations) {
      const client = await openWire(server.url('/fr'));
      await client.write(bytes);
      expect(closeCodeOf(await client.waitClose()), name).toBe(1002);
      await client.waitEnded();
      const echoed = bystander.frames.length;
      await bystander.send(name);
      await bystander.waitFor((f) => f.payload.toString() === name, 2000, echoed);
    }
    expect(probe.errors.map((e) => e.code)).toEqual(violations.map(() => 'WSLANE_PROTOCOL_ERROR'));
    // Nothing of any violation reached the handler: the bystander's messages are all it saw.
    expect(server.hub.stats().messagesIn).toBe(violations.length);
  });
});
