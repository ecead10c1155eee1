import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import type { Codec, EncodedFrame, InboundOf, OutboundOf } from '../codec.js';
import { DecodeError } from '../errors.js';
import { json } from './json.js';

const Chat = z.object({ text: z.string().max(20) }).strict();

function decodeWith<TIn, TOut>(codec: Codec<TIn, TOut>, frame: EncodedFrame): TIn[] {
  const bytes = typeof frame.data === 'string' ? Buffer.from(frame.data, 'utf8') : frame.data;
  const out: TIn[] = [];
  codec.createDecoder().decode(bytes, frame.binary, (message) => out.push(message));
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

function expectNoLeak(error: unknown, secret: string): void {
  const message = (error as Error).message;
  expect(message).not.toContain(secret);
  expect(message).not.toMatch(/^\s*at /m);
  expect(message.length).toBeLessThanOrEqual(100);
}

describe('json', () => {
  it('shares one stateless decoder between the channels of a codec', () => {
    const codec = json(Chat);
    const decoder = codec.createDecoder();
    expect(codec.createDecoder()).toBe(decoder);
    expect(json(Chat).createDecoder()).not.toBe(decoder);
    const out: unknown[] = [];
    decoder.decode(Buffer.from('{"text":"a"}'), false, (message) => out.push(message));
    decoder.decode(Buffer.from('{"text":"b"}'), false, (message) => out.push(message));
    expect(out).toEqual([{ text: 'a' }, { text: 'b' }]);
  });

  it('round-trips any JSON value in a text frame', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const codec = json();
        const frame = codec.encode(value);
        expect(frame.binary).toBe(false);
        expect(decodeWith(codec, frame)).toEqual([JSON.parse(JSON.stringify(value))]);
      }),
    );
  });

  it('round-trips any message valid for the schema both ways', () => {
    const codec = json(Chat, { outbound: Chat });
    const message = fc.record({ text: fc.string({ unit: 'grapheme', maxLength: 20 }) });
    fc.assert(
      fc.property(message, (value) => {
        expect(decodeWith(codec, codec.encode(value))).toEqual([value]);
      }),
    );
  });

  it('decodes to the schema output and encodes from the outbound schema input', () => {
    const Stamp = z.object({ at: z.iso.datetime().transform((text) => new Date(text)) });
    const codec = json(Stamp, { outbound: z.object({ count: z.number() }) });
    expectTypeOf<InboundOf<typeof codec>>().toEqualTypeOf<{ at: Date }>();
    expectTypeOf<OutboundOf<typeof codec>>().toEqualTypeOf<{ count: number }>();
    const [decoded] = decodeWith(codec, { data: '{"at":"2026-01-02T03:04:05Z"}', binary: false });
    expect(decoded?.at).toBeInstanceOf(Date);
  });

  it('throws WSLANE_CODEC_DECODE for invalid JSON without echoing the payload', () => {
    // Short enough that the SyntaxError's own message quotes all of it.
    const secret = 'SECRET-42';
    const error = catchError(() => decodeWith(json(), { data: secret, binary: false }));
    expect(error).toBeInstanceOf(DecodeError);
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_DECODE' });
    expect((error as Error).cause).toBeInstanceOf(SyntaxError);
    expectNoLeak(error, secret);
  });

  it('throws WSLANE_CODEC_DECODE for a schema failure without echoing the payload', () => {
    const secret = 'SECRET-VALUE'.repeat(5);
    const error = catchError(() =>
      decodeWith(json(Chat), { data: JSON.stringify({ text: secret }), binary: false }),
    );
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_DECODE' });
    expect((error as Error).cause).toBeInstanceOf(z.ZodError);
    expectNoLeak(error, 'SECRET');
  });

  it('does not echo unknown keys of the payload when a strict schema refuses them', () => {
    const payload = JSON.stringify({ text: 'hi', 'SECRET-KEY': 1 });
    const error = catchError(() => decodeWith(json(Chat), { data: payload, binary: false }));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_DECODE' });
    expectNoLeak(error, 'SECRET-KEY');
  });

  it('throws WSLANE_CODEC_FRAME_TYPE for a binary frame', () => {
    const frame = { data: Buffer.from('{}'), binary: true };
    expect(catchError(() => decodeWith(json(), frame))).toMatchObject({
      code: 'WSLANE_CODEC_FRAME_TYPE',
    });
  });

  it('refuses to encode a message the outbound schema rejects', () => {
    const codec = json(undefined, { outbound: Chat });
    const error = catchError(() => codec.encode({ text: 'x'.repeat(21) }));
    expect(error).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
    expect((error as Error).cause).toBeInstanceOf(z.ZodError);
  });

  it('sends the outbound schema output, so undeclared keys never leak', () => {
    const codec = json(undefined, { outbound: z.object({ name: z.string() }) });
    const message = { name: 'ada', passwordHash: 'x' };
    expect(codec.encode(message).data).toBe('{"name":"ada"}');
  });

  it('sends the message unchecked when validateOutbound is false', () => {
    const codec = json(undefined, { outbound: Chat, validateOutbound: false });
    expect(codec.encode({ text: 'x'.repeat(21) }).data).toBe(`{"text":"${'x'.repeat(21)}"}`);
  });

  it.each([
    ['undefined', undefined],
    ['a function', () => 1],
    ['a bigint', 1n],
    [
      'a cycle',
      (() => {
        const node: { self?: unknown } = {};
        node.self = node;
        return node;
      })(),
    ],
  ])('refuses to encode %s', (_case, value) => {
    expect(catchError(() => json().encode(value))).toMatchObject({ code: 'WSLANE_CODEC_ENCODE' });
  });
});
