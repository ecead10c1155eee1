import { WslaneError } from '../errors.js';

/** RFC 6455 §5.5: a control frame payload is at most 125 bytes, 2 of them the code. */
const MAX_REASON_BYTES = 123;

/** A close code a peer may receive on the wire (1004-1006 and 1015 are reserved). */
export function isSendableCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}

/**
 * Checks the code and cuts the reason to 123 bytes on a UTF-8 boundary, so `ws.close` can
 * never throw on them.
 *
 * @throws {WslaneError} `WSLANE_INVALID_ARGUMENT` for a code a peer may not receive.
 */
export function toCloseFrame(code: number, reason: string): { code: number; reason: string } {
  if (!isSendableCloseCode(code)) {
    throw new WslaneError('WSLANE_INVALID_ARGUMENT', `invalid close code ${String(code)}`);
  }
  return { code, reason: truncateUtf8(reason, MAX_REASON_BYTES) };
}

/** The longest prefix of `text` whose UTF-8 encoding fits in `maxBytes`. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const bytes = Buffer.from(text);
  let end = maxBytes;
  // Step back over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
