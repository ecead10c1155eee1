import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WslaneError } from '../errors.js';
import { isSendableCloseCode, toCloseFrame, truncateUtf8 } from './close-frame.js';

function caughtBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('isSendableCloseCode', () => {
  it.each([
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999,
  ])('accepts %d', (code) => {
    expect(isSendableCloseCode(code)).toBe(true);
  });

  it.each([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65_535, -1000, 1000.5, Number.NaN])(
    'refuses %d',
    (code) => {
      expect(isSendableCloseCode(code)).toBe(false);
    },
  );
});

describe('toCloseFrame', () => {
  it('keeps a valid code and a short reason unchanged', () => {
    expect(toCloseFrame(4409, 'replaced')).toEqual({ code: 4409, reason: 'replaced' });
  });

  it.each([1005, 1006, 999, 5000, 1015])('throws WSLANE_INVALID_ARGUMENT for code %d', (code) => {
    const error = caughtBy(() => toCloseFrame(code, 'bye'));
    expect(error).toBeInstanceOf(WslaneError);
    expect((error as WslaneError).code).toBe('WSLANE_INVALID_ARGUMENT');
  });

  it('cuts a long ASCII reason to exactly 123 bytes', () => {
    const { reason } = toCloseFrame(1000, 'x'.repeat(300));
    expect(reason).toBe('x'.repeat(123));
  });

  it('keeps a reason of exactly 123 bytes whole', () => {
    const exact = `${'a'.repeat(121)}é`;
    expect(Buffer.byteLength(exact)).toBe(123);
    expect(toCloseFrame(1000, exact).reason).toBe(exact);
  });

  it('never cuts a multi-byte character in half', () => {
    // 122 ASCII bytes + a 4-byte emoji: the emoji does not fit and must go entirely.
    const { reason } = toCloseFrame(1000, `${'a'.repeat(122)}😀tail`);
    expect(reason).toBe('a'.repeat(122));
    // 121 bytes + 2-byte é fits exactly at 123.
    expect(toCloseFrame(1000, `${'a'.repeat(121)}éé`).reason).toBe(`${'a'.repeat(121)}é`);
    // 120 bytes + 3-byte € fits at 123, the next one does not.
    expect(toCloseFrame(1000, `${'a'.repeat(120)}€€`).reason).toBe(`${'a'.repeat(120)}€`);
  });

  it('cuts any well-formed unicode reason to a prefix of at most 123 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        const { reason } = toCloseFrame(1000, text);
        const bytes = Buffer.from(reason, 'utf8');
        expect(bytes.length).toBeLessThanOrEqual(123);
        expect(text.startsWith(reason)).toBe(true);
        expect(bytes.toString('utf8')).toBe(reason);
        expect(new TextDecoder('utf-8', { fatal: true }).decode(bytes)).toBe(reason);
      }),
    );
  });

  it('keeps the longest prefix that fits, dropping at most one character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }), (text) => {
        const { reason } = toCloseFrame(1000, text);
        if (reason === text) return;
        const next = String.fromCodePoint(text.codePointAt(reason.length) as number);
        expect(Buffer.byteLength(reason + next)).toBeGreaterThan(123);
      }),
    );
  });
});

describe('truncateUtf8', () => {
  it('cuts to the given byte budget on a character boundary', () => {
    expect(truncateUtf8('héllo', 2)).toBe('h');
    expect(truncateUtf8('héllo', 3)).toBe('hé');
    expect(truncateUtf8('😀😀', 7)).toBe('😀');
    expect(truncateUtf8('😀', 3)).toBe('');
  });
});
