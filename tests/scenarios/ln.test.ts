import { type Codec, type FrameDecoder, lines } from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { recordingProbe, sendFrames } from './helpers/ln-fixtures.js';

const start = useHubServers();

/** A codec whose decoders are kept, so a test can look at a decoder after the channel failed. */
function keepDecoders<TIn, TOut>(codec: Codec<TIn, TOut>) {
  const afterThrow: TIn[][] = [];
  return {
    afterThrow,
    codec: {
      ...codec,
      createDecoder: (): FrameDecoder<TIn> => {
        const inner = codec.createDecoder();
        return {
          decode(frame, isBinary, emit) {
            try {
              inner.decode(frame, isBinary, emit);
            } catch (error) {
              // Right after the throw, before the close: does the decoder still hold the record?
              const emitted: TIn[] = [];
              inner.decode(Buffer.from('\r\n'), isBinary, (m) => emitted.push(m));
              afterThrow.push(emitted);
              throw error;
            }
          },
          reset: () => inner.reset?.(),
        };
      },
    } satisfies Codec<TIn, TOut>,
  };
}

const noRateLimit = { limits: { rateLimit: false } } as const;

describe('LN: line framing', () => {
  it('LN-01 a record without its terminator closes with 1009 once it passes maxLineBytes, freeing the buffer', async () => {
    const kept = keepDecoders(lines({ maxLineBytes: '1mb' }));
    const recorder = recordingProbe(kept.codec);
    const server = await start({ '/lines': recorder.probe.route });
    const client = await connect(server.url('/lines'));
    const channel = await recorder.probe.channel();
    const frame = 'x'.repeat(8 * 1024);
    // 2 MiB in 8 KiB frames, no terminator anywhere.
    for (let i = 0; i < 256; i++) client.ws.send(frame);
    const closed = await client.waitClosed();
    expect(closed.code).toBe(1009);
    expect(Buffer.byteLength(closed.reason)).toBeGreaterThan(0);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    expect(recorder.of(channel)).toEqual([]);
    // Refused at the first frame past 1 MiB (frame 129), not after the whole 2 MiB.
    expect(channel.stats.bytesIn).toBe(129 * frame.length);
    expect(recorder.probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    // Freed at the throw: a terminator right after it ends an empty record, not a 1 MiB one.
    expect(kept.afterThrow).toEqual([['']]);
  });

  it('LN-02 a peer using the wrong terminator meets the same 1009, quickly with a small limit', async () => {
    for (const wrong of ['\n', '\\r\\n']) {
      const recorder = recordingProbe(lines({ terminator: '\r\n', maxLineBytes: 256 }));
      const server = await start({ '/lines': recorder.probe.route });
      const client = await connect(server.url('/lines'));
      const channel = await recorder.probe.channel();
      for (let i = 0; i < 100; i++) client.ws.send(`cmd ${i}${wrong}`);
      expect((await client.waitClosed()).code).toBe(1009);
      expect(recorder.of(channel)).toEqual([]);
      // Stopped within one frame of the limit, not after all 100 records.
      expect(channel.stats.bytesIn).toBeGreaterThan(256);
      expect(channel.stats.bytesIn).toBeLessThanOrEqual(256 + `cmd 99${wrong}`.length);
      expect(recorder.probe.errors.map((e) => e.code)).toEqual(['WSLANE_MESSAGE_TOO_BIG']);
    }
  });

  it('LN-03 a terminator split across frames, and its prefixes inside records, decode identically', async () => {
    // Property: for any records and any cuts of their byte stream, the decoded records match.
    for (const terminator of ['#$', '\r\n']) {
      const record = fc
        .array(fc.constantFrom('a', '#', '$', '\r', '\n', 'é'), { maxLength: 8 })
        .map((chars) => chars.join(''))
        .filter((r) => `${r}${terminator}`.indexOf(terminator) === r.length);
      fc.assert(
        fc.property(
          fc.array(record, { maxLength: 10 }),
          fc.array(fc.nat(), { maxLength: 6 }),
          (records, cutSeeds) => {
            const stream = Buffer.from(records.map((r) => r + terminator).join(''));
            const cuts = [...new Set(cutSeeds.map((seed) => seed % (stream.length + 1)))].sort(
              (a, b) => a - b,
            );
            const decoder = lines({ terminator }).createDecoder();
            const decoded: string[] = [];
            let from = 0;
            for (const cut of [...cuts, stream.length]) {
              decoder.decode(stream.subarray(from, cut), true, (m) => decoded.push(m));
              from = cut;
            }
            expect(decoded).toEqual(records);
          },
        ),
        { numRuns: 300 },
      );
    }
    // End to end: the same stream cut into two frames at every offset, on one channel.
    const records = ['a#', '##', '#', '$a$', 'x##y', ''];
    const stream = records.map((r) => `${r}#$`).join('');
    const recorder = recordingProbe(lines({ terminator: '#$' }));
    const server = await start({ '/lines': recorder.probe.route }, noRateLimit);
    const client = await connect(server.url('/lines'));
    const channel = await recorder.probe.channel();
    const pieces: string[] = [];
    for (let cut = 0; cut <= stream.length; cut++) {
      pieces.push(stream.slice(0, cut), stream.slice(cut));
    }
    await sendFrames(client, channel, pieces);
    await expect.poll(() => recorder.of(channel).length).toBe(records.length * (stream.length + 1));
    expect(recorder.of(channel)).toEqual(
      Array.from({ length: stream.length + 1 }, () => records).flat(),
    );
    await client.close();
  });

  it('LN-04 several records and half of one in a frame are delivered at once, the rest with the next frame', async () => {
    const recorder = recordingProbe(lines(), true);
    const server = await start({ '/lines': recorder.probe.route });
    const client = await connect(server.url('/lines'));
    const channel = await recorder.probe.channel();
    client.ws.send('one\r\ntwo\r\nthree\r\nfo');
    await expect.poll(() => recorder.of(channel)).toEqual(['one', 'two', 'three']);
    expect(channel.stats.messagesIn).toBe(3);
    client.ws.send('ur\r\nfive\r\nsix\r\n');
    await expect
      .poll(() => recorder.of(channel))
      .toEqual(['one', 'two', 'three', 'four', 'five', 'six']);
    expect(recorder.maxRunning).toBe(1);
    await client.close();
  });

  it('LN-05 a record sent one byte per frame decodes once, in linear time', async () => {
    // In process, scaled from 1 MiB to 64 KiB and 256 KiB so both runs fit the 5 s budget: a
    // decoder that rescans its buffer per byte would take sixteen times as long for four times
    // the size, a linear one four times.
    const timeFor = (size: number): number => {
      const frames = Array.from({ length: size }, (_, i) => Buffer.from([97 + (i % 26)]));
      frames.push(Buffer.from('\r\n'));
      const decoder = lines({ maxLineBytes: size }).createDecoder();
      const decoded: string[] = [];
      const startedAt = performance.now();
      for (const frame of frames) decoder.decode(frame, true, (m) => decoded.push(m));
      const elapsed = performance.now() - startedAt;
      expect(decoded).toHaveLength(1);
      expect(decoded[0]).toHaveLength(size);
      expect(decoded[0]?.slice(0, 27)).toBe('abcdefghijklmnopqrstuvwxyza');
      return elapsed;
    };
    timeFor(16 * 1024);
    const small = timeFor(64 * 1024);
    const large = timeFor(256 * 1024);
    expect(large / small).toBeLessThan(8);
    // End to end with a smaller record: 4 KiB as 4096 frames of one byte.
    const recorder = recordingProbe(lines({ maxLineBytes: 4096 }));
    const server = await start({ '/lines': recorder.probe.route }, noRateLimit);
    const client = await connect(server.url('/lines'));
    const channel = await recorder.probe.channel();
    const record = Array.from({ length: 4096 }, (_, i) => String.fromCharCode(97 + (i % 26)));
    await sendFrames(client, channel, [...record, '\r', '\n']);
    await expect.poll(() => recorder.of(channel)).toEqual([record.join('')]);
    await client.close();
  });

  it('LN-06 multi-byte characters cut across binary frames survive; an invalid sequence closes 1007', async () => {
    const records = ['é', 'a€b', '😀', 'zß€😀→'];
    const stream = Buffer.from(records.map((r) => `${r}\r\n`).join(''));
    const recorder = recordingProbe(lines());
    const server = await start({ '/lines': recorder.probe.route }, noRateLimit);
    const client = await connect(server.url('/lines'));
    const channel = await recorder.probe.channel();
    const pieces: Buffer[] = [];
    for (let cut = 1; cut < stream.length; cut++) {
      pieces.push(stream.subarray(0, cut), stream.subarray(cut));
    }
    await sendFrames(client, channel, pieces);
    await expect.poll(() => recorder.of(channel).length).toBe(records.length * (stream.length - 1));
    expect(recorder.of(channel)).toEqual(
      Array.from({ length: stream.length - 1 }, () => records).flat(),
    );
    // A lone continuation byte inside a record, split so no single frame shows it whole.
    client.ws.send(Buffer.from([0x61, 0xe2]));
    client.ws.send(Buffer.from([0x28, 0x0d, 0x0a]));
    expect((await client.waitClosed()).code).toBe(1007);
    expect(recorder.probe.errors.map((e) => e.code)).toEqual(['WSLANE_CODEC_DECODE']);
  });

  it('LN-07 outgoing records carry exactly one terminator; one that contains it is refused', async () => {
    const outcomes: Record<string, string> = {};
    const probe = createProbe<string, string>({
      codec: lines(),
      onMessage: async (_record, channel) => {
        for (const record of ['hello', 'hello\r\n', 'a\r\nb']) {
          outcomes[record] = await channel.send(record).then(
            (sent) => String(sent),
            (error: { code?: string }) => String(error.code),
          );
        }
        await channel.send('done');
      },
    });
    const server = await start({ '/lines': probe.route });
    const client = await connect(server.url('/lines'));
    client.ws.send('go\r\n');
    expect(await client.take(2)).toEqual(['hello\r\n', 'done\r\n']);
    expect(outcomes).toEqual({
      hello: 'true',
      'hello\r\n': 'WSLANE_CODEC_ENCODE',
      'a\r\nb': 'WSLANE_CODEC_ENCODE',
    });
    expect((await probe.channel()).state).toBe('open');
    await client.close();
  });

  it('LN-11 maxLineBytes counts record bytes without the terminator: max passes, max + 1 closes 1009', async () => {
    const max = 16;
    const recorder = recordingProbe(lines({ maxLineBytes: max }));
    const server = await start({ '/lines': recorder.probe.route });
    const client = await connect(server.url('/lines'));
    const channel = await recorder.probe.channel();
    const under = 'a'.repeat(max - 1);
    const exact = 'b'.repeat(max);
    const wide = 'é'.repeat(max / 2);
    // The terminator of an exact-size record may arrive split, in the next frame.
    await sendFrames(client, channel, [
      `${under}\r\n${exact}\r\n${wide}\r`,
      '\n',
      `${exact}\r`,
      '\n',
    ]);
    await expect.poll(() => recorder.of(channel)).toEqual([under, exact, wide, exact]);
    const codec = lines({ maxLineBytes: max });
    expect(codec.encode(exact)).toEqual({ data: `${exact}\r\n`, binary: false });
    expect(() => codec.encode(`${exact}c`)).toThrow(
      expect.objectContaining({ code: 'WSLANE_CODEC_ENCODE' }),
    );
    // A CR after max bytes that turns out to be data makes the record max + 1 bytes.
    client.ws.send(`${exact}\r`);
    client.ws.send('x');
    expect((await client.waitClosed()).code).toBe(1009);
    expect(recorder.of(channel)).toHaveLength(4);
  });

  it('LN-12 decoder state is per channel: 100 interleaved channels never mix, one failure resets none', async () => {
    const recorder = recordingProbe(lines({ maxLineBytes: 64 }));
    const server = await start({ '/lines': recorder.probe.route }, noRateLimit);
    const clients = await Promise.all(
      Array.from({ length: 100 }, () => connect(server.url('/lines'))),
    );
    await expect.poll(() => recorder.probe.channels.length).toBe(100);
    const byClient = await Promise.all(clients.map((_, i) => recorder.probe.channel(i)));
    const failing = 7;
    const streams = clients.map((_, i) =>
      Array.from({ length: 10 }, (__, j) => `c${i}-r${j}-${'x'.repeat(i % 13)}\r\n`).join(''),
    );
    // Round robin, cutting each channel's stream at its own offsets.
    const offsets = streams.map(() => 0);
    for (let round = 0; offsets.some((o, i) => o < (streams[i] as string).length); round++) {
      for (const [i, client] of clients.entries()) {
        const stream = streams[i] as string;
        if (offsets[i] === stream.length) continue;
        if (i === failing && round === 3) client.ws.send(`${'z'.repeat(80)}\r\n`);
        const step = 1 + ((i + round) % 11);
        const next = Math.min(stream.length, (offsets[i] as number) + step);
        client.ws.send(stream.slice(offsets[i], next));
        offsets[i] = next;
      }
    }
    expect((await (clients[failing] as TestClient).waitClosed()).code).toBe(1009);
    for (const [i, channel] of byClient.entries()) {
      if (i === failing) continue;
      const expected = (streams[i] as string).split('\r\n').slice(0, -1);
      await expect.poll(() => recorder.of(channel)).toEqual(expected);
    }
    expect(recorder.probe.errors).toEqual([
      { code: 'WSLANE_MESSAGE_TOO_BIG', channel: byClient[failing]?.id },
    ]);
    await Promise.all(clients.map((client) => client.close()));
  });
});
