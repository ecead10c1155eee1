import { randomBytes } from 'node:crypto';
import { OP } from './wire-frames.js';

/** One client frame to put on the wire; every field a real client keeps right can be got wrong. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  /** @default true */
  readonly fin?: boolean;
  /** RSV1..3 as a 3-bit number (RSV1 = 4). @default 0 */
  readonly rsv?: number;
  /**
   * Clients must mask (RFC 6455 §5.3): `true` uses a random key, a Buffer that 4-byte key, and
   * `false` sends the protocol violation of an unmasked frame. @default true
   */
  readonly mask?: boolean | Buffer;
  /** The payload length written in the header, true or not. @default the payload's length */
  readonly declaredLength?: number;
  /** 7, 16 or 64-bit length field. @default the shortest that fits */
  readonly lengthForm?: 7 | 16 | 64;
}

type LengthForm = NonNullable<FrameSpec['lengthForm']>;

const HEADER_SIZE: Readonly<Record<LengthForm, number>> = { 7: 2, 16: 4, 64: 10 };

function shortestForm(length: number): LengthForm {
  return length < 126 ? 7 : length < 0x10000 ? 16 : 64;
}

/**
 * Writes a frame header (without its mask key) at `at`; returns where the header ends. A length
 * that does not fit the form is cut to it, as a lying client would send it.
 */
function writeHeader(
  out: Buffer,
  at: number,
  first: number,
  masked: boolean,
  length: number,
  form: LengthForm,
): number {
  const maskBit = masked ? 0x80 : 0;
  out[at] = first;
  if (form === 7) {
    out[at + 1] = (maskBit | length) & 0xff;
  } else if (form === 16) {
    out[at + 1] = maskBit | 126;
    out.writeUInt16BE(length & 0xffff, at + 2);
  } else {
    out[at + 1] = maskBit | 127;
    out.writeUInt32BE(Math.floor(length / 2 ** 32), at + 2);
    out.writeUInt32BE(length >>> 0, at + 6);
  }
  return at + HEADER_SIZE[form];
}

/** Encodes a client frame exactly as `spec` says, valid or not. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload)
      : (spec.payload ?? Buffer.alloc(0));
  const length = spec.declaredLength ?? payload.length;
  const form = spec.lengthForm ?? shortestForm(length);
  const key =
    spec.mask === false ? undefined : Buffer.isBuffer(spec.mask) ? spec.mask : randomBytes(4);
  const out = Buffer.allocUnsafe(HEADER_SIZE[form] + (key === undefined ? 0 : 4) + payload.length);
  const first =
    ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 0x7) << 4) | (spec.opcode & 0xf);
  let at = writeHeader(out, 0, first, key !== undefined, length, form);
  if (key === undefined) {
    payload.copy(out, at);
    return out;
  }
  key.copy(out, at, 0, 4);
  at += 4;
  for (let i = 0; i < payload.length; i++) {
    out[at + i] = (payload[i] as number) ^ (key[i & 3] as number);
  }
  return out;
}

/**
 * One message cut into frames of `size` payload bytes (the last one may be shorter), encoded
 * into one buffer with a zero mask key (legal, and cheap for a million one-byte frames).
 * `size` 0 sends it as one frame.
 */
export function encodeFragments(opcode: number, data: Buffer, size: number): Buffer {
  const cut = size === 0 ? Math.max(1, data.length) : size;
  const count = Math.max(1, Math.ceil(data.length / cut));
  const lastLength = data.length - (count - 1) * cut;
  const frameBytes = (length: number): number => HEADER_SIZE[shortestForm(length)] + 4 + length;
  // Zero-filled: every mask key stays 0 and each payload is copied as is.
  const out = Buffer.alloc((count - 1) * frameBytes(cut) + frameBytes(lastLength));
  let at = 0;
  for (let i = 0; i < count; i++) {
    const last = i === count - 1;
    const length = last ? lastLength : cut;
    const first = (last ? 0x80 : 0) | (i === 0 ? opcode : OP.continuation);
    at = writeHeader(out, at, first, true, length, shortestForm(length)) + 4;
    data.copy(out, at, i * cut, i * cut + length);
    at += length;
  }
  return out;
}

/** Many whole messages in one buffer, each one frame with a zero mask key (fast for floods). */
export function encodeMessages(opcode: number, payloads: readonly (Buffer | string)[]): Buffer {
  return Buffer.concat(
    payloads.map((payload) =>
      encodeFragments(opcode, typeof payload === 'string' ? Buffer.from(payload) : payload, 0),
    ),
  );
}

/** A close frame's payload: the code and a reason (a Buffer to send one that is not UTF-8). */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}
