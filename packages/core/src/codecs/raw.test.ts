import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EncodedFrame } from '../codec.js';
import { type RawMessage, raw } from './raw.js';

function decodeOne(frame: EncodedFrame): RawMessage[] {
  const bytes = typeof frame.data === 'string' ? Buffer.from(frame.data, 'utf8') : frame.data;
  const out: RawMessage[] = [];
  raw()
    .createDecoder()
    .decode(bytes, frame.binary, (message) => out.push(message));
  return out;
}

describe('raw', () => {
  it('round-trips strings as text frames and bytes as binary frames', () => {
    const message = fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.uint8Array().map((bytes) => Buffer.from(bytes)),
    );
    fc.assert(
      fc.property(fc.array(message), (messages) => {
        const frames = messages.map((message) => raw().encode(message));
        expect(frames.map((frame) => frame.binary)).toEqual(
          messages.map((message) => typeof message !== 'string'),
        );
        expect(frames.flatMap(decodeOne)).toEqual(messages);
      }),
    );
  });

  it('decodes a binary frame to the frame itself, not a copy', () => {
    const frame = Buffer.from([1, 2, 3]);
    const out: RawMessage[] = [];
    raw()
      .createDecoder()
      .decode(frame, true, (message) => out.push(message));
    expect(out).toHaveLength(1);
    expect(out[0]).toBe(frame);
  });

  it('decodes a text frame to its UTF-8 string', () => {
    expect(decodeOne({ data: Buffer.from('héllo 😀', 'utf8'), binary: false })).toEqual([
      'héllo 😀',
    ]);
  });

  it('wraps a Uint8Array view in a Buffer over the same memory', () => {
    const backing = new Uint8Array([0, 1, 2, 3, 4, 5]);
    const view = backing.subarray(2, 5);
    const frame = raw().encode(view);
    expect(frame.binary).toBe(true);
    const data = frame.data as Buffer;
    expect(Buffer.isBuffer(data)).toBe(true);
    expect([...data]).toEqual([2, 3, 4]);
    backing[3] = 9;
    expect([...data]).toEqual([2, 9, 4]);
  });

  it('wraps an ArrayBuffer in a Buffer over the same memory', () => {
    const backing = new ArrayBuffer(2);
    const frame = raw().encode(backing);
    expect(frame.binary).toBe(true);
    expect((frame.data as Buffer).buffer).toBe(backing);
  });

  it('refuses to encode a value that is neither a string nor bytes', () => {
    let error: unknown;
    try {
      raw().encode(42 as unknown as string);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
  });
});
