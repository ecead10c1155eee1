import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodedFrame, FrameDecoder } from '../codec.js';
import { DecodeError } from '../errors.js';
import { lines } from './lines.js';

const TERMINATORS = ['\r\n', '\n', '\0', '||', '|||', '→'];

const recordChar = fc.oneof(
  fc.constantFrom('a', '|', '\r', '\n', '\0', 'é', '😀', '→'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
);

function recordsWithout(terminator: string): fc.Arbitrary<string[]> {
  const record = fc
    .string({ unit: recordChar, maxLength: 12 })
    .filter((text) => `${text}${terminator}`.indexOf(terminator) === text.length);
  return fc.array(record, { maxLength: 12 });
}

function toBuffer(frame: EncodedFrame): Buffer {
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

function decodeFrames(decoder: FrameDecoder<string>, frames: readonly Buffer[]): string[] {
  const out: string[] = [];
  for (const frame of frames) decoder.decode(frame, true, (record) => out.push(record));
  return out;
}

function catchError(run: () => void): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('lines', () => {
  it.each(TERMINATORS)('decodes any records cut at any points (terminator %j)', (terminator) => {
    fc.assert(
      fc.property(recordsWithout(terminator), fc.array(fc.nat()), (records, cuts) => {
        const codec = lines({ terminator });
        const stream = Buffer.concat(records.map((record) => toBuffer(codec.encode(record))));
        expect(decodeFrames(codec.createDecoder(), cutAt(stream, cuts))).toEqual(records);
      }),
    );
  });

  it.each(['latin1', 'ascii'] as const)('round-trips %s records in any frames', (encoding) => {
    const maxCode = encoding === 'ascii' ? 0x7f : 0xff;
    const char = fc.integer({ min: 1, max: maxCode }).map((code) => String.fromCharCode(code));
    const records = fc.array(fc.string({ unit: char, maxLength: 12 }));
    fc.assert(
      fc.property(records, fc.array(fc.nat()), (texts, cuts) => {
        const codec = lines({ terminator: '\0', encoding });
        const sent = texts.map((text) => text.replaceAll('\0', ''));
        const stream = Buffer.concat(sent.map((text) => toBuffer(codec.encode(text))));
        expect(decodeFrames(codec.createDecoder(), cutAt(stream, cuts))).toEqual(sent);
      }),
    );
  });

  it('accepts a record of exactly maxLineBytes split over any frames', () => {
    const cases = fc.record({
      max: fc.integer({ min: 0, max: 40 }),
      terminator: fc.constantFrom(...TERMINATORS),
      cuts: fc.array(fc.nat()),
    });
    fc.assert(
      fc.property(cases, ({ max, terminator, cuts }) => {
        const record = 'x'.repeat(max);
        const stream = Buffer.from(`${record}${terminator}`, 'utf8');
        const decoder = lines({ terminator, maxLineBytes: max }).createDecoder();
        expect(decodeFrames(decoder, cutAt(stream, cuts))).toEqual([record]);
      }),
    );
  });

  it('refuses a record of maxLineBytes + 1 on the frame that brings its last byte', () => {
    const cases = fc.record({
      max: fc.integer({ min: 0, max: 40 }),
      terminator: fc.constantFrom(...TERMINATORS),
      cuts: fc.array(fc.nat()),
    });
    fc.assert(
      fc.property(cases, ({ max, terminator, cuts }) => {
        const decoder = lines({ terminator, maxLineBytes: max }).createDecoder();
        const frames = cutAt(Buffer.from('é'.repeat(max + 1), 'latin1'), cuts);
        let seen = 0;
        for (const frame of frames) {
          seen += frame.length;
          const decodeFrame = (): void => decoder.decode(frame, false, () => {});
          if (seen <= max) {
            decodeFrame();
            continue;
          }
          expect(catchError(decodeFrame)).toMatchObject({ code: 'WSLANE_MESSAGE_TOO_BIG' });
          break;
        }
        // Had the refused bytes stayed buffered, this would not be an empty record.
        expect(decodeFrames(decoder, [Buffer.from(terminator)])).toEqual(['']);
      }),
    );
  });

  it('refuses an oversized record once bytes that looked like a terminator are not one', () => {
    const decoder = lines({ terminator: '\r\n', maxLineBytes: 3 }).createDecoder();
    decoder.decode(Buffer.from('abc\r'), true, () => {});
    const error = catchError(() => decoder.decode(Buffer.from('x'), true, () => {}));
    expect(error).toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ code: 'WSLANE_MESSAGE_TOO_BIG' });
  });

  it('emits the records before an oversized one in the same frame, then refuses it', () => {
    const decoder = lines({ terminator: '\n', maxLineBytes: 5 }).createDecoder();
    const out: string[] = [];
    const frame = Buffer.from('ok\nmuch too long\nlost\n');
    const error = catchError(() => decoder.decode(frame, false, (record) => out.push(record)));
    expect(error).toMatchObject({ code: 'WSLANE_MESSAGE_TOO_BIG' });
    expect(out).toEqual(['ok']);
    expect(decodeFrames(decoder, [Buffer.from('next\n')])).toEqual(['next']);
  });

  it('finds a terminator split across frames', () => {
    const decoder = lines().createDecoder();
    const frames = ['one\r', '\ntwo\r', '\n'].map((text) => Buffer.from(text));
    expect(decodeFrames(decoder, frames)).toEqual(['one', 'two']);
  });

  it('finds an overlapping terminator split across frames', () => {
    const decoder = lines({ terminator: 'aab' }).createDecoder();
    const frames = ['xaa', 'ab', 'yaa', 'b'].map((text) => Buffer.from(text));
    expect(decodeFrames(decoder, frames)).toEqual(['xa', 'y']);
  });

  it('copies a short partial record instead of keeping a view of the whole frame', () => {
    const frame = Buffer.from(new TextEncoder().encode(`${'a'.repeat(1000)}\nbc`).buffer);
    const decoder = lines({ terminator: '\n' }).createDecoder();
    decoder.decode(frame, true, () => {});
    frame.fill(0x7a);
    expect(decodeFrames(decoder, [Buffer.from('\n')])).toEqual(['bc']);
  });

  it('decodes a multi-byte character split across frames', () => {
    const bytes = Buffer.from('😀\n', 'utf8');
    const decoder = lines({ terminator: '\n' }).createDecoder();
    expect(decodeFrames(decoder, [bytes.subarray(0, 1), bytes.subarray(1)])).toEqual(['😀']);
  });

  it('throws WSLANE_CODEC_DECODE for a record that is not valid UTF-8', () => {
    const decoder = lines({ terminator: '\n' }).createDecoder();
    const error = catchError(() => decoder.decode(Buffer.from([0x61, 0xff, 0x0a]), true, () => {}));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_DECODE' });
  });

  it('throws WSLANE_CODEC_DECODE for a non-ASCII byte in ascii mode', () => {
    const decoder = lines({ terminator: '\n', encoding: 'ascii' }).createDecoder();
    const error = catchError(() => decoder.decode(Buffer.from([0xe9, 0x0a]), true, () => {}));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_DECODE' });
  });

  it('reset drops a partial record', () => {
    const decoder = lines({ terminator: '\n' }).createDecoder();
    decoder.decode(Buffer.from('stale'), false, () => {});
    decoder.reset?.();
    expect(decodeFrames(decoder, [Buffer.from('fresh\n')])).toEqual(['fresh']);
  });

  it('encodes a record with its terminator in a text frame', () => {
    expect(lines().encode('hi')).toEqual({ data: 'hi\r\n', binary: false });
    expect(lines({ encoding: 'ascii' }).encode('hi')).toEqual({ data: 'hi\r\n', binary: false });
  });

  it('encodes latin1 records in a binary frame', () => {
    const frame = lines({ terminator: '\n', encoding: 'latin1' }).encode('é');
    expect(frame.binary).toBe(true);
    expect(frame.data).toEqual(Buffer.from([0xe9, 0x0a]));
  });

  it.each([
    ['contains the terminator', {}, 'a\r\nb'],
    ['ends where it would form an earlier terminator', { terminator: '||' }, 'a|'],
    ['is over maxLineBytes', { maxLineBytes: 3 }, 'éé'],
    ['is not ASCII in ascii mode', { encoding: 'ascii' as const }, 'é'],
    ['is not latin1 in latin1 mode', { encoding: 'latin1' as const }, '→'],
  ])('refuses to encode a record that %s', (_case, options, record) => {
    const error = catchError(() => lines(options).encode(record));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
  });

  it('encodes a record of exactly maxLineBytes', () => {
    expect(lines({ maxLineBytes: 4 }).encode('éé').data).toBe('éé\r\n');
  });

  it.each([
    ['an empty terminator', { terminator: '' }],
    ['a terminator the encoding cannot hold', { terminator: 'é', encoding: 'ascii' as const }],
    ['an invalid maxLineBytes', { maxLineBytes: 'lots' }],
    ['a negative maxLineBytes', { maxLineBytes: -1 }],
    ['an unknown encoding', { encoding: 'utf16le' as 'utf8' }],
  ])('throws WSLANE_INVALID_ARGUMENT for %s', (_case, options) => {
    expect(catchError(() => lines(options))).toMatchObject({ code: 'WSLANE_INVALID_ARGUMENT' });
  });
});
