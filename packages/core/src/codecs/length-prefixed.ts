import { Buffer } from 'node:buffer';
import type { Codec, EncodedFrame, FrameDecoder } from '../codec.js';
import { DecodeError, WslaneError } from '../errors.js';
import { type SizeInput, toBytes } from '../internal/units.js';

/** Options of the {@link lengthPrefixed} codec. */
export interface LengthPrefixedOptions {
  /**
   * Size of the big-endian unsigned length header in front of each record.
   *
   * @default 4
   */
  readonly headerBytes?: 2 | 4;
  /**
   * Largest record payload in bytes, header not counted, both ways; bytes or a string like
   * `"64kb"`. With a 2-byte header it may not exceed 65535.
   *
   * @default '1mb' (65535 when `headerBytes` is 2)
   */
  readonly maxFrameBytes?: SizeInput;
}

const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
const NO_RECORD = -1;

/**
 * Binary records, each behind a big-endian unsigned length header, carried in binary frames: a
 * frame may hold several records, and a record (or its header) may be split across frames.
 * Zero-length records are valid. A record wholly inside one frame is emitted as a view of that
 * frame, without a copy.
 *
 * Decoding throws {@link DecodeError} `WSLANE_CODEC_FRAME_TYPE` (close 1003) for a text frame and
 * `WSLANE_MESSAGE_TOO_BIG` (close 1009) as soon as a header announces more than `maxFrameBytes`.
 * After any throw the decoder holds nothing.
 *
 * @throws {WslaneError} `WSLANE_INVALID_ARGUMENT` for a `headerBytes` other than 2 or 4 or a
 * `maxFrameBytes` that is invalid or larger than the header can announce; from `encode`,
 * `WSLANE_CODEC_ENCODE` for a payload over `maxFrameBytes` or one that is not bytes.
 *
 * @example
 * ```ts
 * const codec = lengthPrefixed({ headerBytes: 2, maxFrameBytes: '16kb' });
 * ```
 */
export function lengthPrefixed(
  options: LengthPrefixedOptions = {},
): Codec<Buffer, Buffer | Uint8Array> {
  const { headerBytes = 4 } = options;
  if (headerBytes !== 2 && headerBytes !== 4) {
    throw new WslaneError('WSLANE_INVALID_ARGUMENT', 'lengthPrefixed: headerBytes must be 2 or 4');
  }
  const maxFrameBytes = toMaxFrameBytes(options.maxFrameBytes, headerBytes);
  return {
    name: 'length-prefixed',
    encode: (payload: Buffer | Uint8Array): EncodedFrame =>
      encodeRecord(payload, headerBytes, maxFrameBytes),
    createDecoder: (): FrameDecoder<Buffer> =>
      new LengthPrefixedDecoder(headerBytes, maxFrameBytes),
  };
}

class LengthPrefixedDecoder implements FrameDecoder<Buffer> {
  readonly #headerBytes: 2 | 4;
  readonly #maxFrameBytes: number;
  /** A header split across frames, gathered here. */
  readonly #header: Buffer;
  #headerLength = 0;
  /** Payload length announced by the current header, or NO_RECORD while reading a header. */
  #expected = NO_RECORD;
  #chunks: Buffer[] = [];
  #length = 0;

  constructor(headerBytes: 2 | 4, maxFrameBytes: number) {
    this.#headerBytes = headerBytes;
    this.#maxFrameBytes = maxFrameBytes;
    this.#header = Buffer.alloc(headerBytes);
  }

  decode(frame: Buffer, isBinary: boolean, emit: (message: Buffer) => void): void {
    try {
      if (!isBinary) {
        throw new DecodeError(
          'WSLANE_CODEC_FRAME_TYPE',
          'length-prefixed codec accepts binary frames only',
        );
      }
      let offset = 0;
      do {
        if (this.#expected === NO_RECORD) offset = this.#readHeader(frame, offset);
        if (this.#expected === NO_RECORD) return;
        offset = this.#readPayload(frame, offset, emit);
      } while (offset < frame.length);
    } catch (error) {
      this.reset();
      throw error;
    }
  }

  reset(): void {
    this.#headerLength = 0;
    this.#expected = NO_RECORD;
    this.#chunks = [];
    this.#length = 0;
  }

  #readHeader(frame: Buffer, offset: number): number {
    const available = frame.length - offset;
    if (this.#headerLength === 0 && available >= this.#headerBytes) {
      this.#startRecord(readLength(frame, offset, this.#headerBytes));
      return offset + this.#headerBytes;
    }
    const take = Math.min(this.#headerBytes - this.#headerLength, available);
    frame.copy(this.#header, this.#headerLength, offset, offset + take);
    this.#headerLength += take;
    if (this.#headerLength === this.#headerBytes) {
      this.#headerLength = 0;
      this.#startRecord(readLength(this.#header, 0, this.#headerBytes));
    }
    return offset + take;
  }

  #startRecord(length: number): void {
    // Refuse on the header alone: waiting for the payload would buffer what we will reject.
    if (length > this.#maxFrameBytes) {
      throw new DecodeError(
        'WSLANE_MESSAGE_TOO_BIG',
        `record exceeds maxFrameBytes (${this.#maxFrameBytes})`,
      );
    }
    this.#expected = length;
  }

  #readPayload(frame: Buffer, offset: number, emit: (message: Buffer) => void): number {
    const available = frame.length - offset;
    const missing = this.#expected - this.#length;
    if (this.#length === 0 && available >= missing) {
      this.#expected = NO_RECORD;
      emit(frame.subarray(offset, offset + missing));
      return offset + missing;
    }
    const take = Math.min(missing, available);
    const part = frame.subarray(offset, offset + take);
    // A short piece of a large frame would pin the whole frame's memory until the record ends.
    this.#chunks.push(take * 2 < frame.buffer.byteLength ? Buffer.from(part) : part);
    this.#length += take;
    if (this.#length === this.#expected) {
      const record = Buffer.concat(this.#chunks, this.#length);
      this.reset();
      emit(record);
    }
    return offset + take;
  }
}

function readLength(source: Buffer, offset: number, headerBytes: 2 | 4): number {
  return headerBytes === 2 ? source.readUInt16BE(offset) : source.readUInt32BE(offset);
}

function encodeRecord(
  payload: Buffer | Uint8Array,
  headerBytes: 2 | 4,
  maxFrameBytes: number,
): EncodedFrame {
  if (!(payload instanceof Uint8Array)) {
    throw new WslaneError('WSLANE_CODEC_ENCODE', 'lengthPrefixed: payload must be bytes');
  }
  if (payload.length > maxFrameBytes) {
    throw new WslaneError(
      'WSLANE_CODEC_ENCODE',
      `lengthPrefixed: payload exceeds maxFrameBytes (${maxFrameBytes})`,
    );
  }
  const frame = Buffer.allocUnsafe(headerBytes + payload.length);
  if (headerBytes === 2) frame.writeUInt16BE(payload.length, 0);
  else frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, headerBytes);
  return { data: frame, binary: true };
}

function toMaxFrameBytes(input: SizeInput | undefined, headerBytes: 2 | 4): number {
  const headerMax = headerBytes === 2 ? 0xffff : 0xffffffff;
  if (input === undefined) return Math.min(DEFAULT_MAX_FRAME_BYTES, headerMax);
  const maxFrameBytes = toBytes(input);
  if (maxFrameBytes === undefined) {
    throw new WslaneError(
      'WSLANE_INVALID_ARGUMENT',
      'lengthPrefixed: maxFrameBytes must be a size',
    );
  }
  if (maxFrameBytes > headerMax) {
    throw new WslaneError(
      'WSLANE_INVALID_ARGUMENT',
      `lengthPrefixed: maxFrameBytes may not exceed ${headerMax} with a ${headerBytes}-byte header`,
    );
  }
  return maxFrameBytes;
}
