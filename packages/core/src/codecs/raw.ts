import { Buffer } from 'node:buffer';
import type { Codec, EncodedFrame, FrameDecoder } from '../codec.js';
import { WslaneError } from '../errors.js';

/** A message of the {@link raw} codec: a string for a text frame, a `Buffer` for a binary frame. */
export type RawMessage = string | Buffer;

/**
 * What the {@link raw} codec sends: a string (text frame) or bytes (binary frame). Any
 * `ArrayBufferView` or `ArrayBuffer` is wrapped in a `Buffer` over the same memory, not copied.
 */
export type RawOutboundMessage = RawMessage | ArrayBufferView | ArrayBuffer;

/**
 * The identity codec: text frames decode to a string, binary frames to their `Buffer` (not
 * copied), and the frame type is kept both ways. It never fails to decode.
 *
 * @throws {WslaneError} `WSLANE_CODEC_ENCODE` from `encode` when the message is neither a string
 * nor bytes.
 *
 * @example
 * ```ts
 * const route = { codec: raw(), onMessage: (channel, message) => channel.send(message) };
 * ```
 */
export function raw(): Codec<RawMessage, RawOutboundMessage> {
  return { name: 'raw', encode: encodeRaw, createDecoder: createRawDecoder };
}

function encodeRaw(message: RawOutboundMessage): EncodedFrame {
  if (typeof message === 'string') return { data: message, binary: false };
  if (Buffer.isBuffer(message)) return { data: message, binary: true };
  if (ArrayBuffer.isView(message)) {
    return {
      data: Buffer.from(message.buffer, message.byteOffset, message.byteLength),
      binary: true,
    };
  }
  if (message instanceof ArrayBuffer) return { data: Buffer.from(message), binary: true };
  throw new WslaneError(
    'WSLANE_CODEC_ENCODE',
    `raw codec: cannot encode a ${describeType(message)}, expected a string or bytes`,
  );
}

/** The raw decoder keeps no state, so every channel shares this one (no object per channel). */
const RAW_DECODER: FrameDecoder<RawMessage> = Object.freeze({ decode: decodeRaw });

function createRawDecoder(): FrameDecoder<RawMessage> {
  return RAW_DECODER;
}

function decodeRaw(frame: Buffer, isBinary: boolean, emit: (message: RawMessage) => void): void {
  // ws has already validated the UTF-8 of text frames (RFC 6455 §8.1), so no check here.
  emit(isBinary ? frame : frame.toString('utf8'));
}

function describeType(value: unknown): string {
  return value === null ? 'null' : typeof value;
}
