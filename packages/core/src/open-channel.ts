import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Channel, ChannelState, ChannelStats } from './channel.js';
import type { EncodedFrame, FrameDecoder } from './codec.js';
import type { ChannelConfig } from './config.js';
import {
  ChannelClosedError,
  DecodeError,
  ERROR_OUTCOMES,
  isWslaneError,
  WslaneError,
  type WslaneErrorCode,
} from './errors.js';
import { toCloseFrame } from './internal/close-frame.js';
import { Deque } from './internal/deque.js';
import { InboundRateLimiter } from './internal/rate-limiter.js';
import { quiet, quietReject } from './internal/settle.js';
import type { StreamChunk } from './internal/stream-source.js';
import type { Logger } from './logger.js';
import type { Route } from './route.js';
import { type OfferResult, SerializedWriter, type StreamOptions } from './serialized-writer.js';
import { checkDeadlines } from './timeout-policy.js';

/** An open channel of any route: what the hub and the manager hold. */
// biome-ignore lint/suspicious/noExplicitAny: channels of every route share one registry.
export type AnyOpenChannel = OpenChannel<any, any, any>;

/** What an open channel needs from the hub that owns it. */
export interface ChannelHost {
  readonly logger: Logger;
  join(channel: AnyOpenChannel, room: string): void;
  leave(channel: AnyOpenChannel, room: string): void;
  /** The socket is gone: drop the channel from every map and from the clock. */
  release(channel: AnyOpenChannel): void;
}

/** Everything a channel is built from. */
export interface ChannelInit<TContext> {
  readonly id: string;
  readonly key: string | undefined;
  readonly context: TContext;
  readonly ws: WebSocket;
  readonly socket: Duplex;
  // biome-ignore lint/suspicious/noExplicitAny: a channel serves routes of any message types.
  readonly route: Route<any, any, TContext>;
  readonly config: ChannelConfig;
  readonly host: ChannelHost;
  readonly remoteAddress: string;
}

/** A decode failure waiting in the inbound queue, so `onInvalidMessage` keeps message order. */
class InvalidMessage {
  constructor(readonly error: DecodeError) {}
}

const WS_OPEN = 1;

/**
 * The runtime of one connection: wires a `ws` socket to its lane, its decoder, its handlers and
 * its deadlines. Created by the hub once the handshake is done.
 */
export class OpenChannel<TIn = unknown, TOut = unknown, TContext = unknown>
  implements Channel<TOut, TContext>
{
  readonly id: string;
  readonly key: string | undefined;
  readonly context: TContext;
  readonly remoteAddress: string;
  readonly openedAt: number = Date.now();
  readonly config: ChannelConfig;
  // biome-ignore lint/suspicious/noExplicitAny: see ChannelInit.route.
  readonly route: Route<any, any, TContext>;
  state: ChannelState = 'open';
  lastInboundAt: number = this.openedAt;
  lastDataAt: number = this.openedAt;
  pingSentAt = 0;
  closingAt = 0;
  readsPaused = false;

  readonly #ws: WebSocket;
  readonly #host: ChannelHost;
  readonly #writer: SerializedWriter;
  readonly #decoder: FrameDecoder<TIn>;
  readonly #inbound = new Deque<TIn | InvalidMessage>();
  readonly #rateLimiter: InboundRateLimiter | undefined;
  #rooms: Set<string> | undefined;
  #controller: AbortController | undefined;
  #ready = false;
  #running = 0;
  #discardInbound = false;
  #messagesIn = 0;
  #bytesIn = 0;
  #droppedIn = 0;
  #lastMessageAt = 0;
  #closeCode = 1005;
  #closeReason = '';
  #closed: Promise<void> | undefined;
  #resolveClosed: (() => void) | undefined;
  #onCloseDone = false;

  constructor(init: ChannelInit<TContext>) {
    this.id = init.id;
    this.key = init.key;
    this.context = init.context;
    this.remoteAddress = init.remoteAddress;
    this.route = init.route;
    this.config = init.config;
    this.#ws = init.ws;
    this.#host = init.host;
    this.#decoder = init.route.codec.createDecoder() as FrameDecoder<TIn>;
    const rateLimit = init.config.limits.rateLimit;
    this.#rateLimiter = rateLimit === false ? undefined : new InboundRateLimiter(rateLimit);
    this.#writer = new SerializedWriter(init.ws, init.config.backpressure, this, init.socket);
    init.ws.on('message', this.#onMessage);
    init.ws.on('pong', this.#onLife);
    init.ws.on('ping', this.#onLife);
    init.ws.on('error', this.#onError);
    init.ws.on('close', this.#onClose);
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  get routeName(): string {
    return this.route.name;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      // Created on first use: most channels never need one, and each costs memory.
      this.#controller = new AbortController();
      if (this.state !== 'open') this.#controller.abort(this.#closedError());
    }
    return this.#controller.signal;
  }

  get rooms(): ReadonlySet<string> {
    this.#rooms ??= new Set();
    return this.#rooms;
  }

  /** @internal The mutable room set, for the manager. */
  get roomSet(): Set<string> {
    this.#rooms ??= new Set();
    return this.#rooms;
  }

  get stats(): ChannelStats {
    return {
      messagesIn: this.#messagesIn,
      messagesOut: this.#writer.messagesOut,
      bytesIn: this.#bytesIn,
      bytesOut: this.#writer.bytesOut,
      dropped: this.#writer.dropped,
      droppedIn: this.#droppedIn,
      bufferedBytes: this.state === 'closed' ? 0 : this.#writer.queuedBytes,
      openedAt: this.openedAt,
      lastMessageAt: this.#lastMessageAt,
    };
  }

  send(message: TOut): Promise<boolean> {
    if (this.#notOpen()) return quietReject(this.#closedError());
    let frame: EncodedFrame;
    try {
      frame = this.route.codec.encode(message);
    } catch (error) {
      return quietReject(toEncodeError(error));
    }
    return this.#writer.send(frame.data, frame.binary);
  }

  trySend(message: TOut): boolean {
    if (this.#notOpen()) return false;
    let frame: EncodedFrame;
    try {
      frame = this.route.codec.encode(message);
    } catch {
      return false;
    }
    return this.#writer.trySend(frame.data, frame.binary);
  }

  /** @internal Hands an already encoded frame to the lane (broadcast). */
  offerFrame(frame: EncodedFrame, bytes: number): OfferResult {
    if (this.#notOpen()) return 'closed';
    return this.#writer.offer(frame.data, frame.binary, bytes);
  }

  sendStream(
    chunks: Iterable<StreamChunk> | AsyncIterable<StreamChunk>,
    options?: StreamOptions,
  ): Promise<void> {
    if (this.#notOpen()) return quietReject(this.#closedError());
    return this.#writer.sendStream(chunks, options);
  }

  close(code = 1000, reason = ''): Promise<void> {
    const frame = toCloseFrame(code, reason);
    if (this.state === 'open') {
      this.#beginClosing(frame.code, frame.reason);
      // Graceful: everything queued leaves before the close frame.
      void this.#writer.end().then(() => this.#sendCloseFrame());
    }
    return this.#whenClosed();
  }

  terminate(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.#beginClosing(1006, '');
    this.#discardInbound = true;
    this.#writer.abort(this.#closedError());
    this.#ws.terminate();
  }

  join(room: string): void {
    if (this.state === 'open') this.#host.join(this, room);
  }

  leave(room: string): void {
    this.#host.leave(this, room);
  }

  /** Starts the handlers; called by the hub once the channel is registered. */
  start(): void {
    let result: unknown;
    try {
      result = this.route.onOpen?.(this);
    } catch (error) {
      this.#handlerFailed(error);
      return;
    }
    if (isPromiseLike(result)) result.then(this.#onOpened, this.#handlerFailed);
    else this.#onOpened();
  }

  /** Ends the channel because of `error`: report it, then close with its code or terminate. */
  fail(error: WslaneError, closeCode: number | 'terminate', reason = ''): void {
    if (this.state === 'closed') return;
    this.#report(error);
    this.#discardInbound = true;
    if (closeCode === 'terminate' || this.state === 'closing') {
      this.terminate();
      return;
    }
    this.#beginClosing(closeCode, reason);
    this.#writer.abort(this.#closedError());
    this.#sendCloseFrame();
  }

  /** Shared-clock tick: acts on whichever deadline has passed. */
  checkDeadlines(now: number): void {
    const verdict = checkDeadlines(this, this.config.timeouts, now);
    if (verdict === 'none') return;
    const codes = this.config.closeCodes;
    switch (verdict) {
      case 'ping':
        this.pingSentAt = now;
        this.#ws.ping();
        return;
      case 'idle':
        this.#host.logger.debug('channel idle', { channel: this.id });
        this.#closeQuietly(codes.idle, 'idle timeout');
        return;
      case 'max-lifetime':
        this.#closeQuietly(codes.maxLifetime, 'max lifetime reached');
        return;
      case 'heartbeat':
        this.fail(timeoutError('WSLANE_HEARTBEAT_TIMEOUT', 'no pong in time'), 'terminate');
        return;
      case 'close-handshake':
        this.fail(timeoutError('WSLANE_CLOSE_TIMEOUT', 'close handshake timed out'), 'terminate');
        return;
      case 'send-stall':
        this.fail(timeoutError('WSLANE_WRITE_TIMEOUT', 'outbound bytes stalled'), 'terminate');
        return;
    }
  }

  /** For the deadline check: bytes wait in the lane or the socket. */
  get sending(): boolean {
    return this.#writer.queuedBytes > 0;
  }

  get lastProgressAt(): number {
    return this.#writer.lastProgressAt;
  }

  /** WriterHooks: queued bytes would pass maxBufferedBytes under policy `close`. */
  onOverflow(): void {
    const error = new WslaneError('WSLANE_QUEUE_FULL', 'outbound queue over maxBufferedBytes');
    this.fail(error, this.config.closeCodes.overflow, 'outbound queue full');
  }

  /** WriterHooks: a streamed message broke after some frames were written. */
  onStreamBroken(error: WslaneError): void {
    this.fail(error, 1011, 'stream failed');
  }

  #notOpen(): boolean {
    if (this.state !== 'open') return true;
    if (this.#ws.readyState !== WS_OPEN) {
      // The peer's close frame arrived; ws tells us only once the socket is gone.
      this.#beginClosing(1005, '');
      this.#writer.abort(this.#closedError());
      return true;
    }
    return false;
  }

  #closeQuietly(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.#discardInbound = true;
    this.#beginClosing(code, reason);
    this.#writer.abort(this.#closedError());
    this.#sendCloseFrame();
  }

  #beginClosing(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    this.closingAt = Date.now();
    this.#closeCode = code;
    this.#closeReason = reason;
    this.#controller?.abort(this.#closedError());
  }

  #sendCloseFrame(): void {
    if (this.#ws.readyState === WS_OPEN) this.#ws.close(this.#closeCode, this.#closeReason);
  }

  #closedError(): ChannelClosedError {
    return new ChannelClosedError(this.#closeCode, this.#closeReason);
  }

  #whenClosed(): Promise<void> {
    if (this.state === 'closed') return Promise.resolve();
    this.#closed ??= quiet(
      new Promise<void>((resolve) => {
        this.#resolveClosed = resolve;
      }),
    );
    return this.#closed;
  }

  readonly #onMessage = (data: Buffer, isBinary: boolean): void => {
    const now = Date.now();
    this.lastInboundAt = now;
    this.lastDataAt = now;
    this.pingSentAt = 0;
    if (this.state !== 'open') return;
    this.#bytesIn += data.length;
    if (this.#rateLimiter !== undefined && !this.#rateLimiter.take(now)) {
      this.#onRateLimited();
      return;
    }
    this.#lastMessageAt = now;
    try {
      this.#decoder.decode(data, isBinary, this.#enqueue);
    } catch (error) {
      this.#onDecodeError(error);
    }
    this.#drain();
  };

  readonly #enqueue = (message: TIn): void => {
    this.#messagesIn++;
    this.#inbound.push(message);
    if (!this.readsPaused && this.#inbound.length >= this.config.limits.inboundQueue) {
      // TCP backpressure instead of buffering: the peer's sends stall in its own kernel.
      this.readsPaused = true;
      this.#ws.pause();
    }
  };

  readonly #onLife = (): void => {
    this.lastInboundAt = Date.now();
    this.pingSentAt = 0;
  };

  readonly #onError = (error: Error): void => {
    // ws closes the connection itself (1002, 1007, 1009) and reports why here.
    if (this.state === 'closed') return;
    const tooBig = (error as { code?: string }).code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH';
    const code: WslaneErrorCode = tooBig ? 'WSLANE_MESSAGE_TOO_BIG' : 'WSLANE_PROTOCOL_ERROR';
    this.#report(new WslaneError(code, 'peer broke the protocol', { cause: error }));
    this.#discardInbound = true;
    this.#beginClosing(tooBig ? 1009 : 1002, '');
    this.#writer.abort(this.#closedError());
  };

  readonly #onClose = (code: number, reason: Buffer): void => {
    if (this.state === 'open') this.#beginClosing(code, reason.toString());
    this.state = 'closed';
    this.#writer.abort(new ChannelClosedError(code, reason.toString()));
    this.#decoder.reset?.();
    this.#ws.off('message', this.#onMessage);
    this.#ws.off('pong', this.#onLife);
    this.#ws.off('ping', this.#onLife);
    this.#ws.off('close', this.#onClose);
    // The 'error' listener stays: a late socket error must not become an uncaught exception.
    this.#closeCode = code;
    this.#closeReason = reason.toString();
    this.#host.release(this);
    this.#resolveClosed?.();
    if (this.#discardInbound) this.#inbound.clear();
    this.#maybeFinish();
  };

  readonly #onOpened = (): void => {
    this.#ready = true;
    this.#drain();
  };

  #drain(): void {
    const concurrency = this.config.concurrency;
    while (this.#ready && this.#running < concurrency && this.#inbound.length > 0) {
      if (this.#discardInbound) {
        this.#inbound.clear();
        break;
      }
      const item = this.#inbound.shift() as TIn | InvalidMessage;
      this.#running++;
      let result: unknown;
      try {
        result =
          item instanceof InvalidMessage
            ? this.route.onInvalidMessage?.(item.error, this)
            : this.route.onMessage?.(item, this);
      } catch (error) {
        this.#running--;
        this.#handlerFailed(error);
        return;
      }
      if (isPromiseLike(result)) result.then(this.#handlerDone, this.#handlerRejected);
      else this.#running--;
    }
    if (this.readsPaused && this.#inbound.length <= this.config.limits.inboundQueue >> 1) {
      this.readsPaused = false;
      // The peer was not heard while paused: its clocks restart now.
      this.lastInboundAt = Date.now();
      this.lastDataAt = this.lastInboundAt;
      this.pingSentAt = 0;
      this.#ws.resume();
    }
    this.#maybeFinish();
  }

  readonly #handlerDone = (): void => {
    this.#running--;
    this.#drain();
  };

  readonly #handlerRejected = (error: unknown): void => {
    this.#running--;
    this.#handlerFailed(error);
  };

  readonly #handlerFailed = (error: unknown): void => {
    const failure = new WslaneError('WSLANE_HANDLER_FAILED', 'route handler failed', {
      cause: error,
    });
    this.fail(failure, 1011, 'internal error');
    this.#maybeFinish();
  };

  #onDecodeError(error: unknown): void {
    const failure =
      error instanceof DecodeError
        ? error
        : new DecodeError('WSLANE_CODEC_DECODE', 'message could not be decoded', { cause: error });
    if (failure.code === 'WSLANE_CODEC_DECODE' && this.route.onInvalidMessage !== undefined) {
      this.#inbound.push(new InvalidMessage(failure));
      return;
    }
    this.fail(failure, ERROR_OUTCOMES[failure.code].close as number, failure.message);
  }

  #onRateLimited(): void {
    const limit = this.config.limits.rateLimit;
    if (limit !== false && limit.action === 'drop') {
      this.#droppedIn++;
      return;
    }
    const error = new WslaneError('WSLANE_RATE_LIMITED', 'inbound message rate over the limit');
    this.fail(error, this.config.closeCodes.rateLimit, 'rate limit exceeded');
  }

  /** onClose runs once: after the socket closed and the last handler call settled. */
  #maybeFinish(): void {
    if (this.state !== 'closed' || this.#onCloseDone || this.#running > 0) return;
    if (this.#inbound.length > 0 && this.#ready) return;
    this.#onCloseDone = true;
    this.#inbound.clear();
    try {
      const result = this.route.onClose?.(this, this.#closeCode, this.#closeReason);
      if (isPromiseLike(result)) result.then(undefined, this.#onCloseFailed);
    } catch (error) {
      this.#onCloseFailed(error);
    }
  }

  readonly #onCloseFailed = (error: unknown): void => {
    this.#report(new WslaneError('WSLANE_HANDLER_FAILED', 'onClose failed', { cause: error }));
  };

  #report(error: WslaneError): void {
    this.#host.logger.warn(error.message, {
      code: error.code,
      channel: this.id,
      cause: error.cause,
    });
    try {
      this.route.onError?.(error, this);
    } catch (hookError) {
      this.#host.logger.error('onError hook threw', { channel: this.id, cause: hookError });
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

function toEncodeError(error: unknown): WslaneError {
  if (isWslaneError(error)) return error;
  return new WslaneError('WSLANE_CODEC_ENCODE', 'message could not be encoded', { cause: error });
}

function timeoutError(code: WslaneErrorCode, message: string): WslaneError {
  return new WslaneError(code, message);
}
