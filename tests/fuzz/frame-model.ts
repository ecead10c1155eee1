import { isUtf8 } from 'node:buffer';

/**
 * A reference model of what an RFC 6455 server endpoint (no extensions) must do with a byte
 * stream from a client: the messages and pings it accepts, and how it ends. The fuzzer feeds it
 * the exact bytes it writes and holds the live server to its verdict. It follows the order of
 * checks of `ws` 8.23's receiver, so the expected close code is exact, not a set of maybes.
 */

export type Verdict =
  | { readonly kind: 'open' }
  /** The server must close with `code` (1002, 1007, 1008 or 1009) and no reason. */
  | { readonly kind: 'error'; readonly code: number; readonly why: string }
  /** The client closed validly: the server echoes the code (1005: an empty close frame). */
  | { readonly kind: 'close'; readonly code: number; readonly reason: Buffer };

export interface ModelLimits {
  /** 0 = no limit */
  readonly maxPayload: number;
  /** 0 = no limit */
  readonly maxFragments: number;
}

export interface ModelMessage {
  readonly binary: boolean;
  readonly data: Buffer;
}

const MAX_SAFE_HIGH_WORD = 2 ** 21 - 1;

export function isValidCloseCode(code: number): boolean {
  return (
    (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999)
  );
}

export class ReceiverModel {
  readonly messages: ModelMessage[] = [];
  readonly pings: Buffer[] = [];
  verdict: Verdict = { kind: 'open' };
  readonly #limits: ModelLimits;
  #buffer: Buffer = Buffer.alloc(0);
  #fragmented = 0;
  #fragments: Buffer[] = [];
  #totalPayload = 0;
  #numFragments = 0;
  /** Bytes the partial frame at the head of the buffer still needs (0 at a frame boundary). */
  #missing = 0;

  constructor(limits: ModelLimits) {
    this.#limits = limits;
  }

  /** True when no partial frame is buffered and no fragmented message is in progress. */
  get atRest(): boolean {
    return this.#buffer.length === 0 && this.#fragmented === 0;
  }

  /** How many more bytes the partial frame needs (0 when none is buffered). */
  get missing(): number {
    return this.#missing;
  }

  feed(bytes: Buffer): void {
    if (this.verdict.kind !== 'open') return;
    this.#buffer = Buffer.concat([this.#buffer, bytes]);
    while (this.verdict.kind === 'open' && this.#step()) {
      // one frame per step
    }
  }

  #fail(code: number, why: string): false {
    this.verdict = { kind: 'error', code, why };
    return false;
  }

  /** Consumes one complete frame; false when more bytes are needed or the stream ended. */
  #step(): boolean {
    const buf = this.#buffer;
    if (buf.length < 2) return this.#need(2);
    const b0 = buf[0] as number;
    const b1 = buf[1] as number;
    if ((b0 & 0x30) !== 0) return this.#fail(1002, 'RSV2/RSV3');
    if ((b0 & 0x40) !== 0) return this.#fail(1002, 'RSV1');
    const fin = (b0 & 0x80) !== 0;
    let opcode = b0 & 0x0f;
    const length7 = b1 & 0x7f;
    let fragmented = this.#fragmented;
    if (opcode === 0x0) {
      if (fragmented === 0) return this.#fail(1002, 'continuation with nothing to continue');
      opcode = fragmented;
    } else if (opcode === 0x1 || opcode === 0x2) {
      if (fragmented !== 0) return this.#fail(1002, 'data frame inside a fragmented message');
    } else if (opcode >= 0x8 && opcode <= 0xa) {
      if (!fin) return this.#fail(1002, 'fragmented control frame');
      if (length7 > 125 || (opcode === 0x8 && length7 === 1)) {
        return this.#fail(1002, 'bad control frame length');
      }
    } else {
      return this.#fail(1002, `reserved opcode ${opcode}`);
    }
    if (!fin && fragmented === 0) fragmented = opcode;
    if ((b1 & 0x80) === 0) return this.#fail(1002, 'unmasked client frame');
    let offset = 2;
    let length = length7;
    if (length7 === 126) {
      if (buf.length < 4) return this.#need(4);
      length = buf.readUInt16BE(2);
      offset = 4;
    } else if (length7 === 127) {
      if (buf.length < 10) return this.#need(10);
      const high = buf.readUInt32BE(2);
      if (high > MAX_SAFE_HIGH_WORD) return this.#fail(1009, 'length over 2^53 - 1');
      length = high * 2 ** 32 + buf.readUInt32BE(6);
      offset = 10;
    }
    const { maxPayload, maxFragments } = this.#limits;
    // ws adds the announced length at once: an oversized message fails before its payload.
    const total = length > 0 && opcode < 0x8 ? this.#totalPayload + length : this.#totalPayload;
    if (total > maxPayload && maxPayload > 0) return this.#fail(1009, 'message over maxPayload');
    if (buf.length < offset + 4 + length) return this.#need(offset + 4 + length);
    const key = buf.subarray(offset, offset + 4);
    const data = Buffer.from(buf.subarray(offset + 4, offset + 4 + length));
    for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) ^ (key[i & 3] as number);
    this.#buffer = buf.subarray(offset + 4 + length);
    this.#missing = 0;
    if (opcode >= 0x8) return this.#control(opcode, data);
    this.#fragmented = fragmented;
    this.#totalPayload = total;
    if (maxFragments > 0 && ++this.#numFragments > maxFragments) {
      return this.#fail(1008, 'too many fragments');
    }
    if (data.length > 0) this.#fragments.push(data);
    if (!fin) return true;
    const message = Buffer.concat(this.#fragments);
    this.#fragments = [];
    this.#fragmented = 0;
    this.#totalPayload = 0;
    this.#numFragments = 0;
    if (opcode === 0x1 && !isUtf8(message)) return this.#fail(1007, 'text is not UTF-8');
    this.messages.push({ binary: opcode === 0x2, data: message });
    return true;
  }

  #control(opcode: number, data: Buffer): boolean {
    if (opcode === 0x9) this.pings.push(data);
    if (opcode !== 0x8) return true;
    if (data.length === 0) {
      this.verdict = { kind: 'close', code: 1005, reason: Buffer.alloc(0) };
      return false;
    }
    const code = data.readUInt16BE(0);
    if (!isValidCloseCode(code)) return this.#fail(1002, `invalid close code ${code}`);
    const reason = data.subarray(2);
    if (!isUtf8(reason)) return this.#fail(1007, 'close reason is not UTF-8');
    this.verdict = { kind: 'close', code, reason };
    return false;
  }

  #need(bytes: number): false {
    this.#missing = bytes - this.#buffer.length;
    return false;
  }
}
