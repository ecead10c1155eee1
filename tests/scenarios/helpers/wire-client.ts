import { createHash, randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { afterEach } from 'vitest';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const OP = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame as the server wrote it. */
export interface WireFrame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** One data message reassembled from the recorded frames. */
export interface WireMessage {
  readonly opcode: number;
  readonly payload: Buffer;
  /** Index of its first and last frame in the recording. */
  readonly first: number;
  readonly last: number;
  readonly frames: number;
}

/** Options of one hand-made frame. */
export interface FrameOptions {
  /** @default true */
  readonly fin?: boolean;
  /** Clients must mask (RFC 6455 §5.3); `false` sends a protocol violation. @default true */
  readonly mask?: boolean;
  /** @default 0 */
  readonly rsv?: number;
}

/** Options of {@link WireClient.open}. */
export interface WireOpenOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Bytes written in the same TCP write as the upgrade request (early frames). */
  readonly extra?: Buffer;
  /** Answer pings with pongs. @default true */
  readonly autoPong?: boolean;
  /** Answer the server's close frame with one of the same code, as a normal peer. @default true */
  readonly autoClose?: boolean;
  /** A socket to talk over (e.g. a TLS socket) instead of a new TCP connection to the URL. */
  readonly socket?: Socket;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const HEADER_END = Buffer.from('\r\n\r\n');

/** Encodes one client frame (masked unless told otherwise). */
export function encodeFrame(
  opcode: number,
  payload: Buffer | string = Buffer.alloc(0),
  options: FrameOptions = {},
): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const { fin = true, mask = true, rsv = 0 } = options;
  const length = data.length;
  const lengthBytes = length < 126 ? 0 : length < 65_536 ? 2 : 8;
  const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | opcode;
  const lengthCode = length < 126 ? length : length < 65_536 ? 126 : 127;
  header[1] = (mask ? 0x80 : 0) | lengthCode;
  if (lengthBytes === 2) header.writeUInt16BE(length, 2);
  if (lengthBytes === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, data]);
  const key = randomBytes(4);
  key.copy(header, 2 + lengthBytes);
  const masked = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) masked[i] = (data[i] as number) ^ (key[i & 3] as number);
  return Buffer.concat([header, masked]);
}

/**
 * One message cut into frames of `size` payload bytes (the last one may be shorter), encoded
 * into one buffer with a zero mask key (legal, and cheap for a million one-byte frames).
 * `size` 0 sends it as one frame.
 */
export function encodeFragments(opcode: number, data: Buffer, size: number): Buffer {
  const cut = size === 0 ? Math.max(1, data.length) : size;
  const count = Math.max(1, Math.ceil(data.length / cut));
  const headerOf = (length: number): number => 2 + (length < 126 ? 0 : length < 65_536 ? 2 : 8) + 4;
  const lastLength = data.length - (count - 1) * cut;
  const total = (count - 1) * (headerOf(cut) + cut) + headerOf(lastLength) + lastLength;
  const out = Buffer.alloc(total);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const length = i === count - 1 ? lastLength : cut;
    out[at] = (i === count - 1 ? 0x80 : 0) | (i === 0 ? opcode : OP.continuation);
    if (length < 126) {
      out[at + 1] = 0x80 | length;
      at += 2;
    } else if (length < 65_536) {
      out[at + 1] = 0x80 | 126;
      out.writeUInt16BE(length, at + 2);
      at += 4;
    } else {
      out[at + 1] = 0x80 | 127;
      out.writeBigUInt64BE(BigInt(length), at + 2);
      at += 10;
    }
    // Mask key 0: the four bytes stay zero and the payload is copied as is.
    at += 4;
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

/** A close frame payload: code and UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2);
  return payload;
}

/** The bytes of an upgrade request for `path` on `host`. */
export function upgradeRequest(
  path: string,
  host: string,
  headers: Readonly<Record<string, string>> = {},
): Buffer {
  const lines = [
    `GET ${path} HTTP/1.1`,
    `Host: ${host}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

/**
 * Walks recorded frames the way a peer must read them (RFC 6455 §5.4, §5.5.1) and returns the
 * data messages. Throws when a data frame lands inside a fragmented message, a continuation has
 * no message to continue, or anything follows the close frame.
 */
export function toMessages(frames: readonly WireFrame[]): WireMessage[] {
  const messages: WireMessage[] = [];
  let open: { opcode: number; parts: Buffer[]; first: number } | undefined;
  let closedAt = -1;
  frames.forEach((frame, index) => {
    if (closedAt >= 0) throw new Error(`frame ${index} (opcode ${frame.opcode}) after close`);
    if (frame.opcode === OP.close) {
      closedAt = index;
      return;
    }
    if (frame.opcode >= 0x8) return;
    if (frame.opcode === OP.continuation) {
      if (open === undefined) throw new Error(`continuation frame ${index} outside a message`);
      open.parts.push(frame.payload);
    } else {
      if (open !== undefined) {
        throw new Error(`data frame ${index} inside the message started at frame ${open.first}`);
      }
      open = { opcode: frame.opcode, parts: [frame.payload], first: index };
    }
    if (frame.fin) {
      messages.push({
        opcode: open.opcode,
        payload: Buffer.concat(open.parts),
        first: open.first,
        last: index,
        frames: open.parts.length,
      });
      open = undefined;
    }
  });
  return messages;
}

/** The code of a close frame (1005 when it has none). */
export function closeCodeOf(frame: WireFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}

/**
 * A WebSocket client made by hand on a `net` socket: it performs the handshake itself, sends
 * any frame (masked or not, fragmented, invalid) and records every frame the server writes.
 * Server frames are unmasked, so parsing them is simple.
 */
export class WireClient {
  readonly socket: Socket;
  /** Every frame the server wrote, in order. */
  readonly frames: WireFrame[] = [];
  /** Status and headers of the handshake response. */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Resolves when the TCP connection is gone (either side). */
  readonly ended: Promise<void>;
  autoPong: boolean;
  autoClose: boolean;
  /** True once this client wrote a close frame. */
  closeSent = false;
  /** Keep every frame in {@link frames}; turn off for floods checked frame by frame. */
  keepFrames = true;
  /** Called with every frame the server writes, in order. */
  onFrame: ((frame: WireFrame) => void) | undefined;
  /** Frames received, kept or not. */
  frameCount = 0;
  #chunks: Buffer[] = [];
  #buffered = 0;
  #waiters = new Set<() => void>();
  #isEnded = false;

  private constructor(
    socket: Socket,
    status: number,
    headers: Record<string, string>,
    rest: Buffer,
    options: WireOpenOptions,
  ) {
    this.socket = socket;
    this.status = status;
    this.headers = headers;
    this.autoPong = options.autoPong ?? true;
    this.autoClose = options.autoClose ?? true;
    this.ended = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isEnded = true;
        this.#wake();
        resolve();
      });
    });
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    if (rest.length > 0) this.#receive(rest);
    socket.resume();
  }

  /** Connects to a `ws://` URL and completes the handshake; rejects unless the answer is 101. */
  static async open(url: string, options: WireOpenOptions = {}): Promise<WireClient> {
    const { socket, status, headers, rest, key } = await handshake(url, options);
    if (status !== 101) {
      socket.destroy();
      throw new Error(`upgrade answered ${status}`);
    }
    const accept = createHash('sha1').update(`${key}${GUID}`).digest('base64');
    if (headers['sec-websocket-accept'] !== accept) {
      socket.destroy();
      throw new Error('bad Sec-WebSocket-Accept');
    }
    return new WireClient(socket, status, headers, rest, options);
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** Writes one frame; resolves once the bytes are handed to the kernel. */
  sendFrame(opcode: number, payload?: Buffer | string, options?: FrameOptions): Promise<void> {
    if (opcode === OP.close) this.closeSent = true;
    return this.write(encodeFrame(opcode, payload, options));
  }

  /** Writes raw bytes. */
  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  send(data: Buffer | string): Promise<void> {
    return this.sendFrame(typeof data === 'string' ? OP.text : OP.binary, data);
  }

  close(code = 1000, reason = ''): Promise<void> {
    return this.sendFrame(OP.close, closePayload(code, reason));
  }

  /** Data messages received so far (see {@link toMessages}). */
  messages(): WireMessage[] {
    return toMessages(this.frames);
  }

  /** The server's close frame, if it wrote one. */
  get closeFrame(): WireFrame | undefined {
    return this.frames.find((frame) => frame.opcode === OP.close);
  }

  /** The first recorded frame at index `from` or later that `match` accepts, waiting for it. */
  async waitFor(
    match: (frame: WireFrame, index: number) => boolean,
    ms = 2000,
    from = 0,
  ): Promise<WireFrame> {
    let checked = from;
    const scan = (): WireFrame | undefined => {
      for (; checked < this.frames.length; checked++) {
        const frame = this.frames[checked] as WireFrame;
        if (match(frame, checked)) return frame;
      }
      return undefined;
    };
    return withTimeout(
      new Promise<WireFrame>((resolve, reject) => {
        const check = (): void => {
          const found = scan();
          if (found !== undefined) {
            this.#waiters.delete(check);
            resolve(found);
          } else if (this.#isEnded) {
            this.#waiters.delete(check);
            reject(new Error('connection ended before the frame arrived'));
          }
        };
        this.#waiters.add(check);
        check();
      }),
      ms,
      'wire frame',
    );
  }

  /** Waits until `count` recorded frames match (each frame is looked at once). */
  waitForCount(match: (frame: WireFrame) => boolean, count: number, ms = 2000): Promise<WireFrame> {
    let seen = 0;
    return this.waitFor((frame) => match(frame) && ++seen === count, ms);
  }

  /** Waits for the server's close frame. */
  waitClose(ms = 2000): Promise<WireFrame> {
    return this.waitFor((frame) => frame.opcode === OP.close, ms);
  }

  /** Waits until the TCP connection is gone. */
  waitEnded(ms = 2000): Promise<void> {
    return withTimeout(this.ended, ms, 'wire connection end');
  }

  /** Ends with a TCP reset (no FIN, no close frame). */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (this.#parseOne()) {
      // Each call takes one complete frame off the buffer.
    }
    this.#wake();
  }

  #parseOne(): boolean {
    if (this.#buffered < 2) return false;
    const head = this.#peek(Math.min(this.#buffered, 14));
    const b0 = head[0] as number;
    const b1 = head[1] as number;
    const masked = (b1 & 0x80) !== 0;
    let length = b1 & 0x7f;
    let offset = 2;
    if (length === 126) {
      if (head.length < 4) return false;
      length = head.readUInt16BE(2);
      offset = 4;
    } else if (length === 127) {
      if (head.length < 10) return false;
      length = Number(head.readBigUInt64BE(2));
      offset = 10;
    }
    const maskOffset = offset;
    if (masked) offset += 4;
    if (this.#buffered < offset + length) return false;
    const bytes = this.#take(offset + length);
    const payload = Buffer.from(bytes.subarray(offset));
    if (masked) {
      for (let i = 0; i < payload.length; i++) {
        payload[i] = (payload[i] as number) ^ (bytes[maskOffset + (i & 3)] as number);
      }
    }
    const frame: WireFrame = {
      fin: (b0 & 0x80) !== 0,
      rsv: (b0 >> 4) & 0x7,
      opcode: b0 & 0x0f,
      masked,
      payload,
    };
    this.frameCount++;
    if (this.keepFrames) this.frames.push(frame);
    this.onFrame?.(frame);
    if (frame.opcode === OP.ping && this.autoPong && !this.socket.destroyed) {
      this.socket.write(encodeFrame(OP.pong, frame.payload));
    }
    if (frame.opcode === OP.close && this.autoClose && !this.closeSent && !this.socket.destroyed) {
      this.closeSent = true;
      this.socket.write(encodeFrame(OP.close, frame.payload.subarray(0, 2)));
    }
    return true;
  }

  #peek(count: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.length >= count) return first.subarray(0, count);
    return Buffer.concat(this.#chunks).subarray(0, count);
  }

  #take(count: number): Buffer {
    let first = this.#chunks[0] as Buffer;
    if (first.length < count) {
      first = Buffer.concat(this.#chunks);
      this.#chunks = [first];
    }
    const out = first.subarray(0, count);
    if (first.length === count) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(count);
    this.#buffered -= count;
    return out;
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }
}

/** What a raw upgrade request got back: the whole HTTP answer and whether the server ended it. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Every byte the server wrote, headers included. */
  readonly raw: Buffer;
}

/**
 * Sends an upgrade request (plus `extra` bytes in the same write) and reads until the server
 * closes the connection: for refusals, which must be answered and ended, never upgraded.
 */
export async function rawUpgrade(
  url: string,
  options: WireOpenOptions = {},
  ms = 2000,
): Promise<RawAnswer> {
  const target = new URL(url);
  const socket = connectTcp(Number(target.port), target.hostname);
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const request = upgradeRequest(target.pathname + target.search, target.host, options.headers);
  socket.write(options.extra ? Buffer.concat([request, options.extra]) : request);
  try {
    await withTimeout(closed, ms, `server ends ${url}`);
  } finally {
    socket.destroy();
  }
  const raw = Buffer.concat(chunks);
  const { status, headers } = parseHead(raw);
  return { status, headers, raw };
}

async function handshake(
  url: string,
  options: WireOpenOptions,
): Promise<{
  socket: Socket;
  status: number;
  headers: Record<string, string>;
  rest: Buffer;
  key: string;
}> {
  const target = new URL(url);
  const socket = options.socket ?? connectTcp(Number(target.port), target.hostname);
  socket.on('error', () => {});
  const request = upgradeRequest(target.pathname + target.search, target.host, options.headers);
  const key = /Sec-WebSocket-Key: (\S+)/.exec(request.toString())?.[1] as string;
  socket.write(options.extra ? Buffer.concat([request, options.extra]) : request);
  let received = Buffer.alloc(0);
  try {
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        const onData = (chunk: Buffer): void => {
          received = Buffer.concat([received, chunk]);
          if (received.indexOf(HEADER_END) < 0) return;
          socket.off('data', onData);
          socket.off('close', onClose);
          // Keep the frames that follow the head; no more 'data' until the client listens.
          socket.pause();
          resolve();
        };
        const onClose = (): void => reject(new Error('closed during the handshake'));
        socket.on('data', onData);
        socket.once('close', onClose);
      }),
      2000,
      `handshake ${url}`,
    );
  } catch (error) {
    socket.destroy();
    throw error;
  }
  const end = received.indexOf(HEADER_END) + HEADER_END.length;
  const { status, headers } = parseHead(received.subarray(0, end));
  return { socket, status, headers, rest: received.subarray(end), key };
}

function parseHead(raw: Buffer): { status: number; headers: Record<string, string> } {
  const end = raw.indexOf(HEADER_END);
  const text = raw.subarray(0, end < 0 ? raw.length : end).toString('latin1');
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

/** Opens wire clients for the tests of one file and destroys every one of them after each test. */
export function useWireClients(): (url: string, options?: WireOpenOptions) => Promise<WireClient> {
  const open: WireClient[] = [];
  afterEach(() => {
    for (const client of open.splice(0)) client.destroy();
  });
  return async (url, options) => {
    const client = await WireClient.open(url, options);
    open.push(client);
    return client;
  };
}
