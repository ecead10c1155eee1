import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodedFrame, FrameDecoder } from '../codec.js';
import { DecodeError } from '../errors.js';
import { lengthPrefixed } from './length-prefixed.js';

const headerBytes = fc.constantFrom<2 | 4>(2, 4);

function toBuffer(frame: EncodedFrame): Buffer {
  expect(frame.binary).toBe(true);
  return typeof frame.data === 'string' ? Buffer.from(frame.data, 'utf8') : frame.data;
}

function cutAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = cuts.map((cut) => cut % (bytes.length + 1)).sort((a, b) => a - b);
  const frames: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    frames.push(bytes.subarray(start, point));
    start = point;
  }
  return frames;
}

function decodeFrames(decoder: FrameDecoder<Buffer>, frames: readonly Buffer[]): string[] {
  const out: string[] = [];
  for (const frame of frames) decoder.decode(frame, true, (record) => out.push(toHex(record)));
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

function catchError(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('lengthPrefixed', () => {
  it('decodes any records cut at any points', () => {
    const records = fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 12 });
    fc.assert(
      fc.property(headerBytes, records, fc.array(fc.nat()), (header, payloads, cuts) => {
        const codec = lengthPrefixed({ headerBytes: header });
        const stream = Buffer.concat(payloads.map((payload) => toBuffer(codec.encode(payload))));
        const decoded = decodeFrames(codec.createDecoder(), cutAt(stream, cuts));
        expect(decoded).toEqual(payloads.map(toHex));
      }),
    );
  });

  it('accepts a record of exactly maxFrameBytes split over any frames', () => {
    const max = fc.integer({ min: 0, max: 40 });
    fc.assert(
      fc.property(headerBytes, max, fc.array(fc.nat()), (header, maxFrameBytes, cuts) => {
        const codec = lengthPrefixed({ headerBytes: header, maxFrameBytes });
        const payload = Buffer.alloc(maxFrameBytes, 7);
        const frames = cutAt(toBuffer(codec.encode(payload)), cuts);
        expect(decodeFrames(codec.createDecoder(), frames)).toEqual([toHex(payload)]);
      }),
    );
  });

  it('refuses a header announcing maxFrameBytes + 1 on the frame that completes the header', () => {
    const max = fc.integer({ min: 0, max: 40 });
    fc.assert(
      fc.property(headerBytes, max, fc.array(fc.nat()), (header, maxFrameBytes, cuts) => {
        const codec = lengthPrefixed({ headerBytes: header, maxFrameBytes });
        const oversized = lengthPrefixed({ headerBytes: header, maxFrameBytes: maxFrameBytes + 1 });
        const stream = toBuffer(oversized.encode(Buffer.alloc(maxFrameBytes + 1, 7)));
        const decoder = codec.createDecoder();
        let seen = 0;
        for (const frame of cutAt(stream, cuts)) {
          seen += frame.length;
          const decodeFrame = (): void => decoder.decode(frame, true, () => {});
          if (seen < header) {
            decodeFrame();
            continue;
          }
          expect(catchError(decodeFrame)).toMatchObject({ code: 'WSLANE_MESSAGE_TOO_BIG' });
          break;
        }
        // Had the refused header or payload stayed buffered, this would not decode alone.
        const next = toBuffer(codec.encode(Buffer.alloc(0)));
        expect(decodeFrames(decoder, [next])).toEqual(['']);
      }),
    );
  });

  it('writes a big-endian length header in front of the payload', () => {
    const two = lengthPrefixed({ headerBytes: 2 }).encode(Uint8Array.from([9, 8, 7]));
    expect(toHex(toBuffer(two))).toBe('0003090807');
    const four = lengthPrefixed().encode(Buffer.from([9]));
    expect(toHex(toBuffer(four))).toBe('0000000109');
  });

  it('decodes zero-length records, including one ending a frame', () => {
    const decoder = lengthPrefixed({ headerBytes: 2 }).createDecoder();
    expect(decodeFrames(decoder, [Buffer.from([0, 0, 0, 1, 5, 0, 0])])).toEqual(['', '05', '']);
  });

  it('emits a record wholly inside a frame without copying it', () => {
    const frame = Buffer.from(new Uint8Array([0, 2, 1, 2]).buffer);
    const records: Buffer[] = [];
    lengthPrefixed({ headerBytes: 2 })
      .createDecoder()
      .decode(frame, true, (record) => records.push(record));
    frame[2] = 9;
    expect(records.map(toHex)).toEqual(['0902']);
  });

  it('copies a short partial record instead of keeping a view of the whole frame', () => {
    const frame = Buffer.from(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 3, 1, 2]).buffer);
    const decoder = lengthPrefixed({ headerBytes: 2 }).createDecoder();
    decoder.decode(frame, true, () => {});
    frame.fill(9);
    expect(decodeFrames(decoder, [Buffer.from([3])])).toEqual(['010203']);
  });

  it('throws WSLANE_CODEC_FRAME_TYPE for a text frame and drops the partial record', () => {
    const decoder = lengthPrefixed({ headerBytes: 2 }).createDecoder();
    decoder.decode(Buffer.from([0, 5, 1]), true, () => {});
    const error = catchError(() => decoder.decode(Buffer.from('hi'), false, () => {}));
    expect(error).toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_FRAME_TYPE' });
    expect(decodeFrames(decoder, [Buffer.from([0, 1, 4])])).toEqual(['04']);
  });

  it('reset drops a partial header', () => {
    const decoder = lengthPrefixed().createDecoder();
    decoder.decode(Buffer.from([0, 0]), true, () => {});
    decoder.reset?.();
    expect(decodeFrames(decoder, [Buffer.from([0, 0, 0, 1, 3])])).toEqual(['03']);
  });

  it('refuses to encode a payload over maxFrameBytes and accepts one of exactly that size', () => {
    const codec = lengthPrefixed({ maxFrameBytes: 4 });
    expect(toBuffer(codec.encode(Buffer.alloc(4))).length).toBe(8);
    const error = catchError(() => codec.encode(Buffer.alloc(5)));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
  });

  it('limits a 2-byte header to 65535 bytes by default', () => {
    const codec = lengthPrefixed({ headerBytes: 2 });
    expect(toBuffer(codec.encode(Buffer.alloc(0xffff))).length).toBe(0xffff + 2);
    expect(catchError(() => codec.encode(Buffer.alloc(0x10000)))).toMatchObject({
      code: 'WSLANE_CODEC_ENCODE',
    });
  });

  it('limits a 4-byte header to 1 MiB by default', () => {
    const codec = lengthPrefixed();
    expect(toBuffer(codec.encode(Buffer.alloc(1024 * 1024))).length).toBe(1024 * 1024 + 4);
    expect(catchError(() => codec.encode(Buffer.alloc(1024 * 1024 + 1)))).toMatchObject({
      code: 'WSLANE_CODEC_ENCODE',
    });
  });

  it('refuses to encode a payload that is not bytes', () => {
    const codec = lengthPrefixed();
    const error = catchError(() => codec.encode('text' as unknown as Buffer));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
  });

  it.each([
    ['a headerBytes other than 2 or 4', { headerBytes: 3 as 2 }],
    [
      'a maxFrameBytes over 65535 with a 2-byte header',
      { headerBytes: 2 as const, maxFrameBytes: 65536 },
    ],
    ['a maxFrameBytes over 4 GiB - 1 with a 4-byte header', { maxFrameBytes: 2 ** 32 }],
    ['an invalid maxFrameBytes', { maxFrameBytes: 'huge' }],
  ])('throws WSLANE_INVALID_ARGUMENT for %s', (_case, options) => {
    const error = catchError(() => lengthPrefixed(options));
    expect(error).toMatchObject({ code: 'WSLANE_INVALID_ARGUMENT' });
  });

  it('accepts a maxFrameBytes of exactly 65535 with a 2-byte header', () => {
    expect(() => lengthPrefixed({ headerBytes: 2, maxFrameBytes: 65535 })).not.toThrow();
  });
});
