import { createHash, randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';

/**
 * A WebSocket client built on a plain TCP socket, for what a well-behaved client cannot do:
 * half handshakes, garbage bytes, unmasked frames, reserved opcodes and RSV bits, lying length
 * fields, floods without reading. It records every server frame (opcode, FIN, RSV, payload) and
 * the HTTP response, so tests assert on the wire.
 */

export const OP = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame to put on the wire; every field a real client keeps right can be got wrong. */
export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Buffer | string;
  /** @default true */
  readonly fin?: boolean;
  /** RSV1..3 as a 3-bit number (RSV1 = 4). @default 0 */
  readonly rsv?: number;
  /** `true`: a random key; `false`: unmasked; a Buffer: that 4-byte key. @default true */
  readonly mask?: boolean | Buffer;
  /** The payload length written in the header. @default the payload's length */
  readonly declaredLength?: number;
  /** 7, 16 or 64-bit length field. @default the shortest that fits */
  readonly lengthForm?: 7 | 16 | 64;
}

/** Encodes a client frame exactly as `spec` says, valid or not. */
export function encodeFrame(spec: FrameSpec): Buffer {
  const payload =
    typeof spec.payload === 'string'
      ? Buffer.from(spec.payload)
      : (spec.payload ?? Buffer.alloc(0));
  const length = spec.declaredLength ?? payload.length;
  const form = spec.lengthForm ?? (length < 126 ? 7 : length < 0x10000 ? 16 : 64);
  const key =
    spec.mask === false ? undefined : Buffer.isBuffer(spec.mask) ? spec.mask : randomBytes(4);
  const header: number[] = [
    ((spec.fin ?? true) ? 0x80 : 0) | (((spec.rsv ?? 0) & 0x7) << 4) | (spec.opcode & 0xf),
  ];
  const maskBit = key === undefined ? 0 : 0x80;
  if (form === 7) {
    header.push(maskBit | length);
  } else if (form === 16) {
    header.push(maskBit | 126, (length >> 8) & 0xff, length & 0xff);
  } else {
    const high = Math.floor(length / 2 ** 32);
    const low = length >>> 0;
    header.push(maskBit | 127);
    for (const word of [high, low]) {
      header.push((word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff);
    }
  }
  const body = Buffer.from(payload);
  if (key !== undefined) {
    for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i & 3] as number);
  }
  return Buffer.concat([Buffer.from(header), key ?? Buffer.alloc(0), body]);
}

/** A close frame's payload: the code and a reason. */
export function closePayload(code: number, reason: Buffer | string = ''): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(code, 0);
  return Buffer.concat([head, typeof reason === 'string' ? Buffer.from(reason) : reason]);
}

/** One frame the server sent. */
export interface ServerFrame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** An HTTP response as it came over the wire. */
export interface HttpResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Status line, headers and body as received. */
  readonly raw: string;
}

/** How a connection ended, from the client's side. */
export interface Outcome {
  /** The server's close frame (`code` 1005 when it had no payload), if one arrived. */
  readonly close: { code: number; reason: string } | undefined;
  /** Frames before the close frame. */
  readonly frames: readonly ServerFrame[];
}

export interface RequestOptions {
  readonly path?: string;
  readonly host?: string;
  /** Extra or replacing headers (`undefined` removes a default one). */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  readonly method?: string;
  /** Leave out the blank line that ends the headers. @default true */
  readonly complete?: boolean;
}

/** The request a browser would send, with the key and the expected accept value. */
export function upgradeRequest(options: RequestOptions = {}): {
  text: string;
  accept: string;
} {
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string | undefined> = {
    Host: options.host ?? 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  };
  const lines = [`${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) lines.push(`${name}: ${value}`);
  }
  const text = `${lines.join('\r\n')}\r\n${(options.complete ?? true) ? '\r\n' : ''}`;
  const accept = createHash('sha1')
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  return { text, accept };
}

const DEFAULT_WAIT = 2000;

export class RawClient {
  readonly socket: Socket;
  /** Resolves once the TCP socket is fully closed. */
  readonly ended: Promise<void>;
  /** Every server frame parsed so far, in order. */
  readonly frames: ServerFrame[] = [];
  #isEnded = false;
  #buffer: Buffer = Buffer.alloc(0);
  #mode: 'http' | 'frames' = 'http';
  #response: HttpResponse | undefined;
  #waiters: (() => void)[] = [];
  #taken = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.#wake();
    });
    // A reset is one way a server may drop an abusive client; the test looks at `ended`.
    socket.on('error', () => {});
    this.ended = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isEnded = true;
        this.#parse();
        this.#wake();
        resolve();
      });
    });
  }

  /** Opens a TCP connection and nothing else. */
  static async open(port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = connectTcp({ port, host });
    const client = new RawClient(socket);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      DEFAULT_WAIT,
      'raw connect',
    );
    return client;
  }

  /** Opens a connection and completes a valid handshake on `path`. */
  static async connect(port: number, path = '/', options: RequestOptions = {}): Promise<RawClient> {
    const client = await RawClient.open(port);
    const request = upgradeRequest({ ...options, path });
    await client.write(request.text);
    const response = await client.response();
    if (response.status !== 101) {
      client.destroy();
      throw new Error(`handshake refused with ${response.status}`);
    }
    if (response.headers['sec-websocket-accept'] !== request.accept) {
      client.destroy();
      throw new Error('handshake answered with a wrong Sec-WebSocket-Accept');
    }
    return client;
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** Writes raw bytes; resolves once the kernel took them (or the socket is gone). */
  write(bytes: Buffer | string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Writes one frame built from `spec`. */
  send(spec: FrameSpec): Promise<void> {
    return this.write(encodeFrame(spec));
  }

  /** The HTTP response: status, headers and body (waits for the body or the socket's end). */
  response(ms = DEFAULT_WAIT): Promise<HttpResponse> {
    return this.#until(() => this.#response, ms, 'HTTP response');
  }

  /** The next server frame not yet taken by `nextFrame`. */
  nextFrame(ms = DEFAULT_WAIT): Promise<ServerFrame> {
    return this.#until(
      () => {
        const frame = this.frames[this.#taken];
        if (frame !== undefined) this.#taken++;
        return frame;
      },
      ms,
      'server frame',
    );
  }

  /** Waits until `count` frames of `opcode` arrived (counting from the first frame). */
  framesOf(opcode: number, count: number, ms = DEFAULT_WAIT): Promise<ServerFrame[]> {
    return this.#until(
      () => {
        const found = this.frames.filter((frame) => frame.opcode === opcode);
        return found.length >= count ? found.slice(0, count) : undefined;
      },
      ms,
      `${count} frames of opcode ${opcode}`,
    );
  }

  /** Waits until `check` holds, checking again on every chunk the server sends. */
  async waitUntil(check: () => boolean, ms = DEFAULT_WAIT, label = 'condition'): Promise<void> {
    await this.#until(() => (check() ? true : undefined), ms, label);
  }

  /**
   * Waits for the server's close frame or the socket's end, whichever comes first, then answers
   * the close frame by ending the socket (as the RFC allows once both sides sent close).
   */
  async outcome(ms = DEFAULT_WAIT): Promise<Outcome> {
    const index = await this.#until(
      () => {
        const at = this.frames.findIndex((frame) => frame.opcode === OP.close);
        if (at !== -1) return at;
        return this.#isEnded ? -1 : undefined;
      },
      ms,
      'close frame or end',
    );
    const frame = index === -1 ? undefined : this.frames[index];
    const close =
      frame === undefined
        ? undefined
        : frame.payload.length < 2
          ? { code: 1005, reason: '' }
          : { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
    return { close, frames: this.frames.slice(0, index === -1 ? undefined : index) };
  }

  /** The close code the server sent, answering it with a close frame of our own. */
  async closeCode(ms = DEFAULT_WAIT): Promise<number | undefined> {
    const { close } = await this.outcome(ms);
    if (close !== undefined) await this.send({ opcode: OP.close, payload: closePayload(1000) });
    this.socket.end();
    return close?.code;
  }

  /** Waits until the socket closed. */
  waitEnded(ms = DEFAULT_WAIT): Promise<void> {
    return withTimeout(this.ended, ms, 'raw socket end');
  }

  /** Stops reading: the server's writes pile up in the kernel, then in its own buffers. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  async #until<T>(probe: () => T | undefined, ms: number, label: string): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      if (this.#isEnded) throw new Error(`socket ended while waiting for ${label}`);
      await withTimeout(
        new Promise<void>((resolve) => this.#waiters.push(resolve)),
        Math.max(1, deadline - Date.now()),
        label,
      );
    }
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }

  #parse(): void {
    if (this.#mode === 'http') this.#parseHttp();
    if (this.#mode === 'frames') this.#parseFrames();
  }

  #parseHttp(): void {
    if (this.#response !== undefined) return;
    const end = this.#buffer.indexOf('\r\n\r\n');
    if (end === -1) {
      // A server may answer with a bare status line and close (Node's 400 and 408 do).
      if (this.#isEnded && this.#buffer.length > 0) this.#response = parseHead(this.#buffer);
      return;
    }
    const head = this.#buffer.subarray(0, end).toString('latin1');
    const rest = this.#buffer.subarray(end + 4);
    const parsed = parseHead(Buffer.from(head, 'latin1'));
    if (parsed.status === 101) {
      this.#response = parsed;
      this.#mode = 'frames';
      this.#buffer = rest;
      return;
    }
    const length = Number(parsed.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(length) ? rest.length < length : !this.#isEnded) return;
    const body = (Number.isFinite(length) ? rest.subarray(0, length) : rest).toString('utf8');
    this.#response = { ...parsed, body, raw: `${head}\r\n\r\n${body}` };
  }

  #parseFrames(): void {
    for (;;) {
      const frame = readFrame(this.#buffer);
      if (frame === undefined) return;
      this.frames.push(frame.frame);
      this.#buffer = this.#buffer.subarray(frame.size);
    }
  }
}

function parseHead(bytes: Buffer): HttpResponse {
  const text = bytes.toString('latin1');
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status, headers, body: '', raw: text };
}

/** One complete server frame at the start of `buffer`, or undefined when more bytes are needed. */
export function readFrame(buffer: Buffer): { frame: ServerFrame; size: number } | undefined {
  if (buffer.length < 2) return undefined;
  const b0 = buffer[0] as number;
  const b1 = buffer[1] as number;
  let length = b1 & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return undefined;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return undefined;
    length = buffer.readUInt32BE(2) * 2 ** 32 + buffer.readUInt32BE(6);
    offset = 10;
  }
  const masked = (b1 & 0x80) !== 0;
  const key = masked ? buffer.subarray(offset, offset + 4) : undefined;
  if (masked) offset += 4;
  if (buffer.length < offset + length) return undefined;
  const payload = Buffer.from(buffer.subarray(offset, offset + length));
  if (key !== undefined) {
    for (let i = 0; i < payload.length; i++) {
      payload[i] = (payload[i] as number) ^ (key[i & 3] as number);
    }
  }
  return {
    frame: {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      opcode: b0 & 0xf,
      masked,
      payload,
    },
    size: offset + length,
  };
}
