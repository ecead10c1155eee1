import { encodeFrame, type FrameSpec } from '../scenarios/helpers/frame-encoder.js';
import { OP } from '../scenarios/helpers/wire-frames.js';
import { isValidCloseCode, type ModelLimits, type ReceiverModel } from './frame-model.js';

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T;
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255);
    return out;
  }

  /** A size that is mostly small, sometimes up to `max`. */
  size(max: number): number {
    return this.chance(0.9) ? this.int(0, Math.min(max, 64)) : this.int(0, max);
  }
}

/** One generated case: the bytes to write and a label to replay it by. */
export interface GeneratedCase {
  readonly kind: string;
  readonly bytes: Buffer;
  /** Destroy the socket after writing instead of waiting for the server's answer. */
  readonly abrupt?: boolean;
}

const CODE_POINT_RANGES: readonly [number, number][] = [
  [0x00, 0x7f],
  [0x80, 0x7ff],
  [0x800, 0xd7ff],
  [0xe000, 0xffff],
  [0x10000, 0x10ffff],
];

function validUtf8(rng: Rng, maxBytes: number): Buffer {
  const parts: string[] = [];
  let bytes = 0;
  const target = rng.size(maxBytes);
  while (bytes < target) {
    const [low, high] = rng.pick(CODE_POINT_RANGES);
    const char = String.fromCodePoint(rng.int(low, high));
    const size = Buffer.byteLength(char);
    if (bytes + size > target) break;
    parts.push(char);
    bytes += size;
  }
  return Buffer.from(parts.join(''));
}

const INVALID_UTF8: readonly number[][] = [
  [0xff],
  [0x80],
  [0xc0, 0x80], // overlong
  [0xed, 0xa0, 0x80], // surrogate
  [0xf4, 0x90, 0x80, 0x80], // over U+10FFFF
  [0xe2, 0x82], // truncated
];

function invalidUtf8(rng: Rng): Buffer {
  const valid = validUtf8(rng, 40);
  const bad = Buffer.from(rng.pick(INVALID_UTF8));
  const at = rng.int(0, 1) === 0 ? 0 : valid.length;
  return Buffer.concat([valid.subarray(0, at), bad, valid.subarray(at)]);
}

/** A mask key: random, sometimes all zero (a legal no-op mask). */
function maskKey(rng: Rng): Buffer {
  return rng.chance(0.05) ? Buffer.alloc(4) : rng.bytes(4);
}

/**
 * A frame with a random mask key; a data frame sometimes has a longer length field than needed
 * (allowed by ws; a control frame's must be the 7-bit one).
 */
function frame(rng: Rng, spec: Omit<FrameSpec, 'mask'>): Buffer {
  const lengthForm =
    spec.opcode < 0x8 && rng.chance(0.08) ? rng.pick([16, 64] as const) : undefined;
  return encodeFrame({ ...spec, mask: maskKey(rng), lengthForm });
}

function control(rng: Rng): Buffer {
  return frame(rng, { opcode: rng.pick([OP.ping, OP.pong]), payload: rng.bytes(rng.size(125)) });
}

/** Splits `payload` into `count` fragments (some may be empty) of one message. */
function fragmentsOf(rng: Rng, opcode: number, payload: Buffer, count: number): Buffer[] {
  const cuts = Array.from({ length: count - 1 }, () => rng.int(0, payload.length)).sort(
    (a, b) => a - b,
  );
  const frames: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const end = i < count - 1 ? (cuts[i] as number) : payload.length;
    frames.push(
      frame(rng, {
        opcode: i === 0 ? opcode : OP.continuation,
        payload: payload.subarray(start, end),
        fin: i === count - 1,
      }),
    );
    start = end;
    // Control frames may sit between the fragments of a message.
    if (i < count - 1 && rng.chance(0.2)) frames.push(control(rng));
  }
  return frames;
}

/** A case after which the connection must stay open, every message echoed, every ping ponged. */
export function validCase(rng: Rng, limits: ModelLimits): GeneratedCase {
  const roll = rng.int(0, 9);
  if (roll <= 2) {
    return {
      kind: 'text',
      bytes: frame(rng, { opcode: OP.text, payload: validUtf8(rng, limits.maxPayload) }),
    };
  }
  if (roll <= 4) {
    return {
      kind: 'binary',
      bytes: frame(rng, { opcode: OP.binary, payload: rng.bytes(rng.size(limits.maxPayload)) }),
    };
  }
  if (roll <= 7) {
    const text = rng.chance(0.5);
    const payload = text
      ? validUtf8(rng, limits.maxPayload)
      : rng.bytes(rng.size(limits.maxPayload));
    const count = rng.int(2, limits.maxFragments);
    const opcode = text ? OP.text : OP.binary;
    return { kind: 'fragmented', bytes: Buffer.concat(fragmentsOf(rng, opcode, payload, count)) };
  }
  return { kind: 'control', bytes: control(rng) };
}

function validCloseCode(rng: Rng): number {
  const code = rng.chance(0.5) ? rng.int(1000, 1014) : rng.int(3000, 4999);
  return isValidCloseCode(code) ? code : 1000;
}

function closePayloadOf(code: number, reason: Buffer): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, reason]);
}

/** Every way a case may end a connection; most of them break the protocol. */
const TERMINAL: readonly ((rng: Rng, limits: ModelLimits) => GeneratedCase)[] = [
  (rng) => {
    const payload = closePayloadOf(validCloseCode(rng), validUtf8(rng, 123));
    return { kind: 'close', bytes: frame(rng, { opcode: OP.close, payload }) };
  },
  (rng) => ({ kind: 'close-empty', bytes: frame(rng, { opcode: OP.close }) }),
  (rng) => {
    const code = rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]);
    return {
      kind: 'close-bad-code',
      bytes: frame(rng, { opcode: OP.close, payload: closePayloadOf(code, Buffer.alloc(0)) }),
    };
  },
  (rng) => ({
    kind: 'close-bad-utf8',
    bytes: frame(rng, { opcode: OP.close, payload: closePayloadOf(1000, invalidUtf8(rng)) }),
  }),
  (rng) => ({
    kind: 'close-1-byte',
    bytes: frame(rng, { opcode: OP.close, payload: Buffer.from([rng.int(0, 255)]) }),
  }),
  (rng) => ({
    kind: 'reserved-opcode',
    bytes: frame(rng, {
      opcode: rng.pick([0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf]),
      payload: rng.bytes(rng.size(200)),
      fin: rng.chance(0.8),
    }),
  }),
  (rng) => ({
    kind: 'unmasked',
    bytes: encodeFrame({
      opcode: rng.pick([OP.text, OP.binary, OP.ping, OP.pong, OP.close]),
      payload: Buffer.alloc(0),
      mask: false,
    }),
  }),
  (rng) => ({
    kind: 'rsv',
    bytes: frame(rng, {
      opcode: rng.pick([OP.text, OP.binary, OP.ping, OP.continuation]),
      payload: rng.bytes(rng.size(100)),
      rsv: rng.int(1, 7),
    }),
  }),
  (rng) => ({
    kind: 'fragmented-control',
    bytes: frame(rng, { opcode: rng.pick([OP.ping, OP.pong, OP.close]), fin: false }),
  }),
  (rng) => ({
    kind: 'long-control',
    bytes: frame(rng, {
      opcode: rng.pick([OP.ping, OP.pong, OP.close]),
      payload: rng.bytes(rng.int(126, 300)),
    }),
  }),
  (rng) => ({
    kind: 'orphan-continuation',
    bytes: frame(rng, {
      opcode: OP.continuation,
      payload: rng.bytes(rng.size(50)),
      fin: rng.chance(0.5),
    }),
  }),
  (rng) => ({
    kind: 'interleaved-data',
    bytes: Buffer.concat([
      frame(rng, { opcode: rng.pick([OP.text, OP.binary]), payload: Buffer.from('a'), fin: false }),
      frame(rng, { opcode: rng.pick([OP.text, OP.binary]), payload: Buffer.from('b') }),
    ]),
  }),
  (rng) => ({
    kind: 'bad-utf8-text',
    bytes: Buffer.concat(fragmentsOf(rng, OP.text, invalidUtf8(rng), rng.int(1, 3))),
  }),
  (rng, limits) => ({
    kind: 'oversize-announced',
    bytes: encodeFrame({
      opcode: rng.pick([OP.text, OP.binary]),
      declaredLength: rng.int(limits.maxPayload + 1, 2 ** 40),
      mask: maskKey(rng),
    }),
  }),
  (rng, limits) => {
    const payload = rng.bytes(limits.maxPayload + 1);
    const frames = fragmentsOf(rng, OP.binary, payload, rng.int(2, limits.maxFragments));
    return { kind: 'oversize-fragments', bytes: Buffer.concat(frames) };
  },
  (rng, limits) => ({
    kind: 'too-many-fragments',
    bytes: Buffer.concat(
      fragmentsOf(
        rng,
        rng.pick([OP.text, OP.binary]),
        Buffer.from('x'.repeat(20)),
        limits.maxFragments + 1 + rng.int(0, 5),
      ),
    ),
  }),
  (rng) => ({
    kind: 'length-over-2^53',
    bytes: Buffer.concat([
      Buffer.from([
        0x82,
        0xff,
        rng.int(0x00, 0xff) | 0x01,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
        0xff,
      ]),
      rng.bytes(4),
    ]),
  }),
  (rng) => ({ kind: 'garbage', bytes: rng.bytes(rng.int(1, 48)) }),
  () => ({
    kind: 'http-again',
    bytes: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n'),
  }),
  (rng, limits) => {
    // Half a frame, then the peer is gone.
    const whole = frame(rng, {
      opcode: OP.binary,
      payload: rng.bytes(rng.int(2, limits.maxPayload)),
    });
    return {
      kind: 'abrupt-mid-frame',
      bytes: whole.subarray(0, rng.int(1, whole.length - 1)),
      abrupt: true,
    };
  },
  () => ({ kind: 'abrupt', bytes: Buffer.alloc(0), abrupt: true }),
];

/**
 * A case that ends the connection. Its bytes are completed so the model reaches a verdict: a
 * partial frame left by random bytes is padded, and a stream still open gets a reserved opcode.
 */
export function terminalCase(rng: Rng, limits: ModelLimits, model: ReceiverModel): GeneratedCase {
  const generated = rng.pick(TERMINAL)(rng, limits);
  model.feed(generated.bytes);
  if (generated.abrupt === true) return generated;
  const extra: Buffer[] = [];
  for (let round = 0; model.verdict.kind === 'open' && round < 8; round++) {
    const padding = model.missing > 0 ? rng.bytes(model.missing) : Buffer.from([0x83, 0x80]);
    extra.push(padding);
    model.feed(padding);
  }
  if (model.verdict.kind === 'open') throw new Error(`generator left ${generated.kind} open`);
  return { kind: generated.kind, bytes: Buffer.concat([generated.bytes, ...extra]) };
}
