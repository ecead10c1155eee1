import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { type Channel, ChannelClosedError, type Codec, json, WslaneError } from '@wslane/core';
import { withTimeout } from '@wslane/core/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createProbe, deferred } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { closePayload, encodeFrame } from './helpers/frame-encoder.js';
import { useWireClients } from './helpers/use-wire-clients.js';
import { closeCodeOf, OP, toMessages, type WireFrame } from './helpers/wire-frames.js';

const startHubServer = useHubServers();
const openWire = useWireClients();

afterEach(() => {
  vi.useRealTimers();
});

/** A deterministic PRNG (mulberry32), so a failing run can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Traffic shaping of WR-01: a random 0–2 ms pause, as a microtask, a macrotask or a timer. */
function shape(next: () => number): Promise<void> | undefined {
  const roll = next();
  if (roll < 0.45) return Promise.resolve();
  if (roll < 0.98) return new Promise((resolve) => setImmediate(resolve));
  // Timers are 2 % of the pauses: at 1–2 ms each, more would not fit the 5 s test budget.
  return delay(Math.floor(next() * 3));
}

/** Payload `i` of producer `p`: 10 B to 64 KiB (mostly small), its bytes derived from (p, i). */
function payloadOf(p: number, i: number): Buffer {
  const next = random(p * 1_000_003 + i);
  const size = next() < 0.9 ? 10 + Math.floor(next() * 1000) : 10 + Math.floor(next() * 65_527);
  const payload = Buffer.alloc(size, (p * 31 + i) & 0xff);
  payload[0] = p;
  payload.writeUInt32BE(i, 1);
  return payload;
}

describe('WR: concurrent writes and ordering', () => {
  it('WR-01 eight async producers on one channel', async () => {
    const probe = createProbe();
    const server = await startHubServer({ '/wr': probe.route });
    const client = await openWire(server.url('/wr'));
    const channel = await probe.channel();
    const producers = 8;
    // 5,000 each, not 10,000: 80,000 messages take 1.5 s alone and 3 s or more on a loaded
    // two-core machine, too close to the 5 s test budget.
    const perProducer = 5000;
    const total = producers * perProducer;
    // Each frame is checked as it arrives instead of keeping 40,000 frames around.
    client.keepFrames = false;
    const next = new Array<number>(producers).fill(0);
    const problems: string[] = [];
    let received = 0;
    const all = deferred();
    client.onFrame = (frame) => {
      if (frame.opcode === OP.ping) return;
      received++;
      if (frame.opcode !== OP.binary || !frame.fin) {
        problems.push(`frame ${received}: opcode ${frame.opcode}, fin ${frame.fin}`);
      } else {
        const p = frame.payload[0] as number;
        const i = frame.payload.readUInt32BE(1);
        if (i !== next[p]) problems.push(`producer ${p}: ${i} after ${String(next[p])}`);
        next[p] = i + 1;
        if (!frame.payload.equals(payloadOf(p, i))) problems.push(`producer ${p}: ${i} changed`);
      }
      if (received === total) all.resolve();
    };
    const sending = Array.from({ length: producers }, async (_, p) => {
      const pause = random(p);
      for (let i = 0; i < perProducer; i++) {
        await channel.send(payloadOf(p, i));
        await shape(pause);
      }
    });
    await Promise.all(sending);
    await withTimeout(all.promise, 4000, 'every message on the wire');
    expect(problems.slice(0, 10)).toEqual([]);
    expect(received).toBe(total);
    expect(next).toEqual(new Array(producers).fill(perProducer));
    expect(channel.state).toBe('open');
    expect(probe.errors).toEqual([]);
  }, 5000);

  it('WR-02 order is the order of send() calls (wslane: no permessage-deflate, encode is synchronous)', async () => {
    // wslane never negotiates compression and a Codec's encode is synchronous, so nothing can
    // finish encoding out of order: the scenario's guarantee is checked with a costly encode.
    const costly: Codec<never, { size: number; tag: string }> = {
      name: 'costly',
      encode: ({ size, tag }) => {
        let digest = Buffer.from(tag);
        for (let i = 0; i < (size > 1000 ? 2000 : 1); i++) {
          digest = createHash('sha256').update(digest).digest();
        }
        const data = Buffer.alloc(size, digest[0]);
        data.write(tag);
        return { data, binary: true };
      },
      createDecoder: () => ({ decode: () => {} }),
    };
    const probe = createProbe({ codec: costly });
    const server = await startHubServer({ '/wr': probe.route });
    const client = await openWire(server.url('/wr'), {
      headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' },
    });
    expect((await client.response()).headers['sec-websocket-extensions']).toBeUndefined();
    const channel = await probe.channel();
    const rounds = 20;
    for (let r = 0; r < rounds; r++) {
      // Same tick: A (1 MiB, slow to encode) then B and C (tiny).
      const sends = [
        channel.send({ size: 1024 * 1024, tag: `A${r};` }),
        channel.send({ size: 3, tag: `B${r};` }),
        channel.send({ size: 3, tag: `C${r};` }),
      ];
      await expect(Promise.all(sends)).resolves.toEqual([true, true, true]);
    }
    await client.waitForCount((f) => f.opcode < 0x8, rounds * 3, 4000);
    const tags = client.messages().map((m) => /^[ABC]\d+/.exec(m.payload.toString('latin1'))?.[0]);
    const expected = Array.from({ length: rounds }, (_, r) => [`A${r}`, `B${r}`, `C${r}`]).flat();
    expect(tags).toEqual(expected);
    expect(client.messages()[0]?.payload.length).toBe(1024 * 1024);
  });

  it('WR-03 heartbeat and timer-driven messages go through the same lane', async () => {
    const probe = createProbe();
    const server = await startHubServer(
      { '/wr': probe.route },
      { timeouts: { heartbeat: { interval: 5, timeout: 2000 } } },
    );
    const client = await openWire(server.url('/wr'));
    const channel = await probe.channel();
    let streaming = false;
    let heartbeatsDuringStream = 0;
    const heartbeat = setInterval(() => {
      if (streaming) heartbeatsDuringStream++;
      void channel.send('hb');
    }, 1);
    const chunks = Array.from({ length: 10 }, (_, i) => `s${i}-${'x'.repeat(100)};`);
    async function* slowStream() {
      for (const chunk of chunks) {
        // The source takes its time, so the heartbeat timer and the producers run meanwhile.
        await delay(2);
        yield chunk;
      }
    }
    try {
      const producers = Array.from({ length: 8 }, async (_, p) => {
        for (let i = 0; i < 300; i++) {
          await channel.send(`p${p}:${i}`);
          await new Promise((resolve) => setImmediate(resolve));
          if (p === 0 && i === 20) {
            streaming = true;
            await channel.sendStream(slowStream(), { binary: false });
            streaming = false;
          }
        }
      });
      await Promise.all(producers);
    } finally {
      clearInterval(heartbeat);
    }
    const last = channel.send('end');
    await expect(last).resolves.toBe(true);
    await client.waitFor((f) => f.opcode === OP.text && f.payload.toString() === 'end');
    // Throws if any data frame lands inside the streamed message.
    const messages = client.messages();
    const streamed = messages.filter((m) => m.frames > 1);
    expect(streamed).toHaveLength(1);
    expect(streamed[0]?.payload.toString()).toBe(chunks.join(''));
    expect(streamed[0]?.frames).toBe(10);
    expect(heartbeatsDuringStream).toBeGreaterThan(0);
    const heartbeats = messages.filter((m) => m.payload.toString() === 'hb');
    expect(heartbeats.length).toBeGreaterThan(heartbeatsDuringStream);
    for (let p = 0; p < 8; p++) {
      const own = messages
        .map((m) => m.payload.toString())
        .filter((text) => text.startsWith(`p${p}:`));
      expect(own).toEqual(Array.from({ length: 300 }, (_, i) => `p${p}:${i}`));
    }
    // Protocol pings may sit anywhere, even between the frames of the streamed message.
    expect(client.frames.some((frame) => frame.opcode === OP.ping)).toBe(true);
  });

  it('WR-04 a poison message does not wedge the writer (encode failure)', async () => {
    const cycle: Record<string, unknown> = { n: 500 };
    cycle.self = cycle;
    const throwing: Codec<never, { n: number }> = {
      name: 'throwing',
      encode: ({ n }) => {
        if (n === 500) throw new Error('codec bug');
        return { data: JSON.stringify({ n }), binary: false };
      },
      createDecoder: () => ({ decode: () => {} }),
    };
    const poisons: [string, Codec<unknown, unknown>, unknown][] = [
      ['json with a cycle', json() as Codec<unknown, unknown>, cycle],
      ['json with a bigint', json() as Codec<unknown, unknown>, { n: 500n }],
      ['a codec that throws', throwing as Codec<unknown, unknown>, { n: 500 }],
    ];
    for (const [, codec, poison] of poisons) {
      const probe = createProbe<unknown, unknown>({ codec });
      const server = await startHubServer({ '/wr': probe.route });
      const client = await openWire(server.url('/wr'));
      const channel = await probe.channel();
      const sends = Array.from({ length: 1000 }, (_, n) =>
        channel.send(n === 500 ? poison : { n }),
      );
      const results = await withTimeout(Promise.allSettled(sends), 2000, 'every send settles');
      const rejected = results.flatMap((result, n) => (result.status === 'rejected' ? [n] : []));
      expect(rejected).toEqual([500]);
      const reason = (results[500] as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(WslaneError);
      expect(reason).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
      // The lane is free: a last send resolves and arrives after the 999 others, in order.
      await expect(channel.send({ n: 1000 })).resolves.toBe(true);
      await client.waitFor((f) => f.payload.toString() === '{"n":1000}');
      const delivered = client
        .messages()
        .map((m) => (JSON.parse(m.payload.toString()) as { n: number }).n);
      expect(delivered).toEqual([...Array(1001).keys()].filter((n) => n !== 500));
      expect(channel.state).toBe('open');
      await server.close();
    }
  });

  it('WR-04 a poison message does not wedge the writer (the socket write fails)', async () => {
    const closes: number[] = [];
    const probe = createProbe({
      onClose: (_channel, code) => {
        closes.push(code);
      },
    });
    const server = await startHubServer({ '/wr': probe.route });
    const sockets: Socket[] = [];
    server.server.on('connection', (socket: Socket) => sockets.push(socket));
    const client = await openWire(server.url('/wr'));
    const channel = await probe.channel();
    for (let n = 0; n < 500; n++) await channel.send(`msg:${n};`);
    await client.waitFor((f) => f.payload.toString() === 'msg:499;');
    failWritesContaining(sockets[0] as Socket, Buffer.from('msg:500;'));
    const sends = Array.from({ length: 500 }, (_, i) => channel.send(`msg:${500 + i};`));
    const results = await withTimeout(Promise.allSettled(sends), 2000, 'every send settles');
    for (const result of results) {
      if (result.status === 'fulfilled') expect(result.value).toBe(true);
      else expect(result.reason).toBeInstanceOf(ChannelClosedError);
    }
    await expect.poll(() => channel.state).toBe('closed');
    // Nothing can be sent on a failed socket, so no 1011 frame: the channel closes as 1006.
    await expect.poll(() => closes).toEqual([1006]);
    await expect(channel.send('after')).rejects.toMatchObject({ code: 'WSLANE_CHANNEL_CLOSED' });
    await client.waitEnded();
    const delivered = client.messages().map((m) => m.payload.toString());
    expect(delivered).toEqual(Array.from({ length: 500 }, (_, n) => `msg:${n};`));
  });

  it('WR-05 broadcast and direct sends keep per-channel order', async () => {
    const probe = createProbe({ onOpen: (channel) => channel.join('r') });
    const server = await startHubServer({ '/wr': probe.route });
    const client = await openWire(server.url('/wr'));
    const bystander = await openWire(server.url('/wr'));
    const channel = await probe.channel(0);
    await probe.channel(1);
    const room = server.hub.channels.room('r');
    const calls: string[] = [];
    const direct = (async () => {
      for (let n = 0; n < 5000; n++) {
        calls.push(`d${n}`);
        await channel.send(`d${n}`);
        if (n % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const broadcasting = (async () => {
      for (let n = 0; n < 5000; n++) {
        calls.push(`b${n}`);
        expect(room.broadcast(`b${n}`).delivered).toBe(2);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all([direct, broadcasting]);
    const switches = calls.filter((call, i) => i > 0 && call[0] !== calls[i - 1]?.[0]).length;
    expect(switches).toBeGreaterThan(1000);
    await client.waitForCount((f) => f.opcode < 0x8, 10_000, 4000);
    expect(client.messages().map((m) => m.payload.toString())).toEqual(calls);
    await bystander.waitForCount((f) => f.opcode < 0x8, 5000, 4000);
    expect(bystander.messages().map((m) => m.payload.toString())).toEqual(
      Array.from({ length: 5000 }, (_, n) => `b${n}`),
    );
  });

  it('WR-06 close is called from several places at once', async () => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
    });
    const idleMs = 1000;
    const onClose: number[] = [];
    const closePromises: Promise<void>[] = [];
    let hubClosing: Promise<void> | undefined;
    const probe = createProbe({
      onMessage: (message, open) => {
        if (message !== 'go') return;
        // One tick: the handler closes, the idle deadline passes, the hub shuts down; the
        // peer's own close frame follows 'go' in the same TCP segment.
        closePromises.push(open.close(1000, 'handler'));
        vi.advanceTimersByTime(idleMs);
        hubClosing = server.hub.close();
        closePromises.push(open.close(4000, 'second call'));
      },
      onClose: (_channel, code) => {
        onClose.push(code);
      },
    });
    const server = await startHubServer(
      { '/wr': probe.route },
      { timeouts: { idle: idleMs, heartbeat: false, sendStall: false } },
    );
    const client = await openWire(server.url('/wr'));
    const channel: Channel = await probe.channel();
    let aborts = 0;
    channel.signal.addEventListener('abort', () => aborts++);
    await vi.advanceTimersByTimeAsync(idleMs - 50);
    await client.write(
      Buffer.concat([
        encodeFrame({ opcode: OP.text, payload: 'go' }),
        encodeFrame({ opcode: OP.close, payload: closePayload(4001, 'peer') }),
      ]),
    );
    await client.waitEnded();
    await withTimeout(Promise.all(closePromises), 2000, 'every close() resolves');
    await withTimeout(hubClosing as Promise<void>, 2000, 'hub closed');
    const closeFrames = client.frames.filter((frame) => frame.opcode === OP.close);
    expect(closeFrames).toHaveLength(1);
    expect(toMessages(client.frames)).toEqual([]);
    expect(aborts).toBe(1);
    expect(server.hub.stats()).toMatchObject({ created: 1, released: 1, active: 0 });
    // The first close that won (the handler's 1000) is what every report of the channel says.
    expect(onClose).toHaveLength(1);
    // RFC 6455 §7.1.5: the connection's close code is the one in the close frame received.
    expect(onClose).toEqual([4001]);
    // The first close that won (the handler's 1000) is what the server itself says everywhere:
    // the channel's signal, the error of a later send and its one close frame.
    const late = await channel.send('late').catch((error: ChannelClosedError) => error);
    expect({
      signal: (channel.signal.reason as ChannelClosedError).closeCode,
      laterSend: (late as ChannelClosedError).closeCode,
      closeFrame: closeCodeOf(closeFrames[0] as WireFrame),
    }).toEqual({ signal: 1000, laterSend: 1000, closeFrame: 1000 });
  });
});

/**
 * Makes the server side of a connection fail (EPIPE) the first socket write that carries
 * `marker`, as a write to a peer that just vanished does.
 */
function failWritesContaining(socket: Socket, marker: Buffer): void {
  const write = socket._write.bind(socket);
  const writev = socket._writev?.bind(socket);
  const epipe = () => Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
  // ws hands text payloads to the socket as strings.
  const carries = (chunk: unknown): boolean =>
    typeof chunk === 'string'
      ? chunk.includes(marker.toString())
      : Buffer.isBuffer(chunk) && chunk.includes(marker);
  socket._write = (chunk: unknown, encoding, callback) => {
    if (carries(chunk)) callback(epipe());
    else write(chunk, encoding, callback);
  };
  if (writev !== undefined) {
    socket._writev = (chunks, callback) => {
      if (chunks.some(({ chunk }) => carries(chunk))) callback(epipe());
      else writev(chunks, callback);
    };
  }
}
