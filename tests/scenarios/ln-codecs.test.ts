import { type Codec, DecodeError, json, lengthPrefixed } from '@wslane/core';
import { connect } from '@wslane/core/testing';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createProbe } from '../helpers/channel-probe.js';
import { useHubServers } from '../helpers/hub-server.js';
import { recordingProbe, sendFrames } from './helpers/ln-fixtures.js';

const start = useHubServers();

describe('LN: length-prefixed, begin/end-mark and JSON codecs', () => {
  it('LN-08 length-prefixed: an oversized header closes 1009 at once; split headers and empty records decode', async () => {
    const recorder = recordingProbe(lengthPrefixed({ maxFrameBytes: '1mb' }));
    const server = await start({ '/lp': recorder.probe.route });
    const header = (length: number): Buffer => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32BE(length);
      return bytes;
    };
    // Split headers (1+3 and 2+2), a zero-length record, and a record inside one frame.
    const good = await connect(server.url('/lp'));
    const goodChannel = await recorder.probe.channel(0);
    const abc = Buffer.concat([header(3), Buffer.from('abc')]);
    await sendFrames(good, goodChannel, [
      abc.subarray(0, 1),
      abc.subarray(1),
      abc.subarray(0, 2),
      Buffer.concat([abc.subarray(2), header(0), header(2)]),
      Buffer.from('hi'),
    ]);
    await expect
      .poll(() => recorder.of(goodChannel).map((b) => b.toString()))
      .toEqual(['abc', 'abc', '', 'hi']);
    // Trailing half record when the peer closes: never delivered.
    good.ws.send(Buffer.concat([header(10), Buffer.from('abc')]));
    await good.close();
    await expect.poll(() => goodChannel.state).toBe('closed');
    expect(recorder.of(goodChannel)).toHaveLength(4);
    // 2 GiB announced: refused on the header alone, nothing of the body is ever sent.
    const big = await connect(server.url('/lp'));
    const bigChannel = await recorder.probe.channel(1);
    big.ws.send(header(2 ** 31));
    expect((await big.waitClosed()).code).toBe(1009);
    expect(bigChannel.stats.bytesIn).toBe(4);
    // A text frame on a binary codec: 1003.
    const text = await connect(server.url('/lp'));
    text.ws.send('text');
    expect((await text.waitClosed()).code).toBe(1003);
    expect(recorder.probe.errors.map((e) => e.code)).toEqual([
      'WSLANE_MESSAGE_TOO_BIG',
      'WSLANE_CODEC_FRAME_TYPE',
    ]);
  });

  it('LN-09 a begin/end-mark codec: garbage closes 1007 (or resyncs via onInvalidMessage); escaped marks survive', async () => {
    const invalid: string[] = [];
    const recorder = recordingProbe(markCodec());
    const strict = await start({ '/marks': recorder.probe.route });
    const garbage = await connect(strict.url('/marks'));
    garbage.ws.send(Buffer.from('junk\x02ok\x03'));
    expect((await garbage.waitClosed()).code).toBe(1007);
    // An end mark inside the body must be escaped; unescaped, the rest of the body is garbage.
    const client = await connect(strict.url('/marks'));
    const channel = await recorder.probe.channel(1);
    client.ws.send(Buffer.from('\x02a\x1b\x03b\x1b\x1bc\x03'));
    await expect.poll(() => recorder.of(channel)).toEqual(['a\x03b\x1bc']);
    client.ws.send(Buffer.from('\x02ab\x03cd\x03'));
    expect((await client.waitClosed()).code).toBe(1007);
    // A route that handles invalid input itself keeps the channel and its decoder resyncs.
    const lenient = createProbe<string, string>({
      codec: markCodec(),
      onMessage: (record, ch) => ch.send(`got ${record}`),
      onInvalidMessage: (error, ch) => {
        invalid.push(error.code);
        return ch.send('invalid');
      },
    });
    const server = await start({ '/marks': lenient.route });
    const resync = await connect(server.url('/marks'));
    resync.ws.send(Buffer.from('junk'));
    resync.ws.send(Buffer.from('\x02ok\x03'));
    expect(await resync.take(2)).toEqual([
      Buffer.from('\x02invalid\x03'),
      Buffer.from('\x02got ok\x03'),
    ]);
    expect(invalid).toEqual(['WSLANE_CODEC_DECODE']);
    await resync.close();
  });

  it('LN-10 JSON failures close 1007 with a short reason that never echoes the payload; binary is 1003', async () => {
    const Say = z.object({ type: z.literal('say'), text: z.string().max(100) });
    const probe = createProbe({ codec: json(Say) });
    const records = createProbe({ codec: json(z.record(z.string(), z.number())) });
    const lenient = createProbe({
      codec: json(Say),
      onMessage: (m, c) => c.send({ echo: m.text }),
      onInvalidMessage: (error, c) => c.send({ invalid: error.code }),
    });
    const server = await start({
      '/json': probe.route,
      '/rec': records.route,
      '/ok': lenient.route,
    });
    const secret = `SECRET-${'s'.repeat(40)}`;
    const cases: [path: string, payload: string | Buffer, code: number][] = [
      ['/json', `{"type":"say","text":"${secret}"`, 1007],
      ['/json', `{"oops":"${secret.repeat(250)}`, 1007],
      ['/json', JSON.stringify({ type: 'shout', text: secret }), 1007],
      ['/json', JSON.stringify({ type: 'say', text: secret.repeat(3) }), 1007],
      ['/rec', JSON.stringify({ [secret]: 'not a number' }), 1007],
      ['/json', Buffer.from(JSON.stringify({ type: 'say', text: 'hi' })), 1003],
    ];
    for (const [path, payload, code] of cases) {
      const client = await connect(server.url(path));
      client.ws.send(payload);
      const closed = await client.waitClosed();
      expect({ path, code: closed.code }).toEqual({ path, code });
      expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
      expect(closed.reason).not.toContain('SECRET');
    }
    const client = await connect(server.url('/ok'));
    client.ws.send('{not json');
    client.ws.send(JSON.stringify({ type: 'say', text: 'still here' }));
    expect(await client.take(2)).toEqual([
      JSON.stringify({ invalid: 'WSLANE_CODEC_DECODE' }),
      JSON.stringify({ echo: 'still here' }),
    ]);
    await client.close();
  });
});

const STX = 0x02;
const ETX = 0x03;
const ESC = 0x1b;

/**
 * A begin/end-mark codec as a user would write one: STX record ETX, with ESC escaping a mark or
 * ESC inside the record. Bytes outside a record are invalid (1007); after a throw it holds
 * nothing, so it resyncs at the next STX.
 */
function markCodec(): Codec<string, string> {
  return {
    name: 'marks',
    encode: (record) => {
      const bytes = [STX];
      for (const byte of Buffer.from(record, 'latin1')) {
        if (byte === STX || byte === ETX || byte === ESC) bytes.push(ESC);
        bytes.push(byte);
      }
      bytes.push(ETX);
      return { data: Buffer.from(bytes), binary: true };
    },
    createDecoder: () => {
      let record: number[] | undefined;
      let escaped = false;
      const reset = (): void => {
        record = undefined;
        escaped = false;
      };
      return {
        reset,
        decode(frame, _isBinary, emit) {
          for (const byte of frame) {
            if (record === undefined) {
              if (byte !== STX) {
                reset();
                throw new DecodeError('WSLANE_CODEC_DECODE', 'data outside a record');
              }
              record = [];
            } else if (escaped) {
              record.push(byte);
              escaped = false;
            } else if (byte === ESC) {
              escaped = true;
            } else if (byte === ETX) {
              emit(Buffer.from(record).toString('latin1'));
              record = undefined;
            } else {
              record.push(byte);
            }
          }
        },
      };
    },
  };
}
