import { connect as connectTcp, type Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { closePayload, encodeFrame, type FrameSpec } from './frame-encoder.js';
import {
  type HttpResponse,
  parseResponseHead,
  type UpgradeWriteOptions,
  writeUpgrade,
} from './http-upgrade.js';
import {
  closeCodeOf,
  decodeFrame,
  frameSize,
  OP,
  toMessages,
  type WireFrame,
  type WireMessage,
} from './wire-frames.js';

/** What the client answers by itself, as a normal peer would. */
export interface AnswerOptions {
  /** Answer pings with pongs. @default true */
  readonly autoPong?: boolean;
  /** Answer the server's close frame with one of the same code. @default true */
  readonly autoClose?: boolean;
}

/** Options of {@link WireClient.open}. */
export interface WireOpenOptions extends AnswerOptions, UpgradeWriteOptions {
  /** A socket to talk over (e.g. a TLS socket) instead of a new TCP connection to the URL. */
  readonly socket?: Socket;
}

/** A peer that answers nothing by itself: the test answers pings and close frames, or not. */
export const SILENT = { autoPong: false, autoClose: false } as const;

/** How a connection ended, from the client's side. */
export interface Outcome {
  /** The server's close frame (`code` 1005 when it had no payload), if one arrived. */
  readonly close: { code: number; reason: string } | undefined;
  /** Frames before the close frame. */
  readonly frames: readonly WireFrame[];
}

/** How long a wait of a {@link WireClient} lasts unless told otherwise. */
export const DEFAULT_WAIT_MS = 2000;

/**
 * A WebSocket client made by hand on a plain socket, for what a well-behaved client cannot do:
 * half handshakes, garbage bytes, unmasked frames, reserved opcodes and RSV bits, lying length
 * fields, floods without reading. It reads the HTTP response, then records every frame the
 * server writes, so tests assert on the wire.
 */
export class WireClient {
  readonly socket: Socket;
  /** Every frame the server wrote, in order (unless {@link keepFrames} is off). */
  readonly frames: WireFrame[] = [];
  /** Keep every frame in {@link frames}; turn off for floods checked frame by frame. */
  keepFrames = true;
  /** Called with every frame the server writes, in order. */
  onFrame: ((frame: WireFrame) => void) | undefined;
  readonly #autoPong: boolean;
  readonly #autoClose: boolean;
  readonly #ended: Promise<void>;
  #isEnded = false;
  #closeSent = false;
  /** Bytes received and not parsed yet, kept as they came until a frame needs them joined. */
  #chunks: Buffer[] = [];
  #buffered = 0;
  #response: HttpResponse | undefined;
  #upgraded = false;
  #waiters = new Set<() => void>();
  /** Frames handed out by {@link nextFrame}. */
  #taken = 0;

  private constructor(socket: Socket, options: AnswerOptions) {
    this.socket = socket;
    this.#autoPong = options.autoPong ?? true;
    this.#autoClose = options.autoClose ?? true;
    // A reset is one way a server may drop an abusive client; tests look at the end instead.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
      this.#parse();
      this.#wake();
    });
    this.#ended = new Promise((resolve) => {
      socket.once('close', () => {
        this.#isEnded = true;
        this.#parse();
        this.#wake();
        resolve();
      });
    });
  }

  /** A TCP connection and nothing else: the test writes the handshake, or garbage, itself. */
  static async tcp(
    port: number,
    options: AnswerOptions & { readonly host?: string } = {},
  ): Promise<WireClient> {
    const socket = connectTcp({ port, host: options.host ?? '127.0.0.1', noDelay: true });
    const client = new WireClient(socket, options);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('error', reject);
      }),
      DEFAULT_WAIT_MS,
      'tcp connect',
    );
    return client;
  }

  /**
   * Connects to a `ws://` URL (or over `options.socket`) and completes the handshake; rejects
   * unless the answer is a 101 with the right Sec-WebSocket-Accept.
   */
  static async open(url: string, options: WireOpenOptions = {}): Promise<WireClient> {
    const target = new URL(url);
    const client =
      options.socket === undefined
        ? await WireClient.tcp(Number(target.port), { ...options, host: target.hostname })
        : new WireClient(options.socket, options);
    try {
      const accept = await writeUpgrade(client, target, options);
      const response = await client.response();
      if (response.status !== 101) throw new Error(`upgrade answered ${response.status}`);
      if (response.headers['sec-websocket-accept'] !== accept) {
        throw new Error('bad Sec-WebSocket-Accept');
      }
    } catch (error) {
      client.destroy();
      throw error;
    }
    return client;
  }

  get isEnded(): boolean {
    return this.#isEnded;
  }

  /** The server's close frame, if it wrote one. */
  get closeFrame(): WireFrame | undefined {
    return this.frames.find((frame) => frame.opcode === OP.close);
  }

  /** Writes raw bytes; resolves once the kernel took them, or at once if the socket is gone. */
  write(bytes: Buffer | string): Promise<void> {
    if (this.socket.destroyed || !this.socket.writable) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Writes one frame built from `spec`. */
  sendFrame(spec: FrameSpec): Promise<void> {
    if (spec.opcode === OP.close) this.#closeSent = true;
    return this.write(encodeFrame(spec));
  }

  /** Sends one data message in one valid frame: text for a string, binary for a Buffer. */
  send(data: Buffer | string): Promise<void> {
    return this.sendFrame({
      opcode: typeof data === 'string' ? OP.text : OP.binary,
      payload: data,
    });
  }

  close(code = 1000, reason: Buffer | string = ''): Promise<void> {
    return this.sendFrame({ opcode: OP.close, payload: closePayload(code, reason) });
  }

  /** The HTTP response: status, headers and body (waits for the body or the socket's end). */
  response(ms = DEFAULT_WAIT_MS): Promise<HttpResponse> {
    return this.#until(() => this.#response, ms, 'HTTP response');
  }

  /** Data messages received so far (see {@link toMessages}). */
  messages(): WireMessage[] {
    return toMessages(this.frames);
  }

  /** The next recorded frame not yet handed out by `nextFrame`. */
  nextFrame(ms = DEFAULT_WAIT_MS): Promise<WireFrame> {
    return this.#until(
      () => {
        const frame = this.frames[this.#taken];
        if (frame !== undefined) this.#taken++;
        return frame;
      },
      ms,
      'next frame',
    );
  }

  /** The first recorded frame at index `from` or later that `match` accepts, waiting for it. */
  waitFor(
    match: (frame: WireFrame, index: number) => boolean,
    ms = DEFAULT_WAIT_MS,
    from = 0,
  ): Promise<WireFrame> {
    // Each frame is looked at once, however often the wait wakes up.
    let checked = from;
    return this.#until(
      () => {
        for (; checked < this.frames.length; checked++) {
          const frame = this.frames[checked] as WireFrame;
          if (match(frame, checked)) return frame;
        }
        return undefined;
      },
      ms,
      'wire frame',
    );
  }

  /** Waits until `count` recorded frames match; resolves with the last of them. */
  waitForCount(
    match: (frame: WireFrame) => boolean,
    count: number,
    ms = DEFAULT_WAIT_MS,
  ): Promise<WireFrame> {
    let seen = 0;
    return this.waitFor((frame) => match(frame) && ++seen === count, ms);
  }

  /** Waits for the server's close frame. */
  waitClose(ms = DEFAULT_WAIT_MS): Promise<WireFrame> {
    return this.waitFor((frame) => frame.opcode === OP.close, ms);
  }

  /** Waits until `check` holds, checking again on every chunk the server sends. */
  async waitUntil(check: () => boolean, ms = DEFAULT_WAIT_MS, label = 'condition'): Promise<void> {
    await this.#until(() => (check() ? true : undefined), ms, label);
  }

  /** Waits for the server's close frame or the socket's end, whichever comes first. */
  async outcome(ms = DEFAULT_WAIT_MS): Promise<Outcome> {
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
    return {
      close:
        frame === undefined
          ? undefined
          : { code: closeCodeOf(frame), reason: frame.payload.subarray(2).toString() },
      frames: this.frames.slice(0, index === -1 ? undefined : index),
    };
  }

  /**
   * The close code the server sent; a close frame from it is answered with a 1000 of our own,
   * then the socket is ended (as the RFC allows once both sides sent close).
   */
  async closeCode(ms = DEFAULT_WAIT_MS): Promise<number | undefined> {
    const { close } = await this.outcome(ms);
    if (close !== undefined) await this.close();
    this.socket.end();
    return close?.code;
  }

  /** Waits until the connection is gone (either side). */
  waitEnded(ms = DEFAULT_WAIT_MS): Promise<void> {
    return withTimeout(this.#ended, ms, 'connection end');
  }

  /** Stops reading: the server's writes pile up in the kernel, then in its own buffers. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Ends with a TCP reset (no FIN, no close frame). */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves with what `probe` finds, probing again on every chunk; rejects once ended. */
  #until<T>(probe: () => T | undefined, ms: number, label: string): Promise<T> {
    let check = (): void => {};
    const found = new Promise<T>((resolve, reject) => {
      check = () => {
        const value = probe();
        if (value === undefined && !this.#isEnded) return;
        this.#waiters.delete(check);
        if (value !== undefined) resolve(value);
        else reject(new Error(`connection ended while waiting for ${label}`));
      };
    });
    this.#waiters.add(check);
    check();
    // A wait that timed out stops probing: nextFrame's probe must not take a later frame.
    return withTimeout(found, ms, label).finally(() => this.#waiters.delete(check));
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  #parse(): void {
    if (!this.#upgraded) this.#parseResponse();
    if (!this.#upgraded) return;
    while (this.#parseFrame()) {
      // Each call takes one complete frame off the buffer.
    }
  }

  #parseResponse(): void {
    if (this.#response !== undefined || this.#buffered === 0) return;
    const bytes = this.#peek(this.#buffered);
    const end = bytes.indexOf('\r\n\r\n');
    if (end === -1) {
      // A server may answer with a bare status line and close (Node's 400 and 408 do).
      if (this.#isEnded) this.#response = parseResponseHead(bytes);
      return;
    }
    const head = parseResponseHead(bytes.subarray(0, end));
    if (head.status === 101) {
      this.#response = head;
      this.#upgraded = true;
      this.#take(end + 4);
      return;
    }
    const rest = bytes.subarray(end + 4);
    const length = Number(head.headers['content-length'] ?? Number.NaN);
    if (Number.isFinite(length) ? rest.length < length : !this.#isEnded) return;
    const body = (Number.isFinite(length) ? rest.subarray(0, length) : rest).toString('utf8');
    this.#response = { ...head, body, raw: `${head.raw}\r\n\r\n${body}` };
  }

  #parseFrame(): boolean {
    if (this.#buffered < 2) return false;
    const size = frameSize(this.#peek(Math.min(this.#buffered, 14)));
    if (size === undefined || this.#buffered < size) return false;
    const frame = decodeFrame(this.#take(size));
    if (this.keepFrames) this.frames.push(frame);
    this.onFrame?.(frame);
    if (frame.opcode === OP.ping && this.#autoPong && !this.socket.destroyed) {
      this.socket.write(encodeFrame({ opcode: OP.pong, payload: frame.payload }));
    }
    if (
      frame.opcode === OP.close &&
      this.#autoClose &&
      !this.#closeSent &&
      !this.socket.destroyed
    ) {
      this.#closeSent = true;
      this.socket.write(encodeFrame({ opcode: OP.close, payload: frame.payload.subarray(0, 2) }));
    }
    return true;
  }

  /** The first `count` buffered bytes, joining the chunks when they span several. */
  #peek(count: number): Buffer {
    if ((this.#chunks[0] as Buffer).length < count) this.#chunks = [Buffer.concat(this.#chunks)];
    return (this.#chunks[0] as Buffer).subarray(0, count);
  }

  #take(count: number): Buffer {
    const bytes = this.#peek(count);
    const first = this.#chunks[0] as Buffer;
    if (first.length === count) this.#chunks.shift();
    else this.#chunks[0] = first.subarray(count);
    this.#buffered -= count;
    return bytes;
  }
}
