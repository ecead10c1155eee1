import type { WebSocket } from 'ws';
import type { Channel, ChannelState, ChannelStats } from './channel.js';
import type { ChannelHost, ChannelInit } from './channel-host.js';
import { type EncodedFrame, encodeOrError, type FrameDecoder } from './codec.js';
import type { ChannelConfig } from './config.js';
import { ChannelClosedError, WslaneError } from './errors.js';
import { FrameIntake, InvalidMessage } from './frame-intake.js';
import { InboundDispatcher } from './inbound-dispatcher.js';
import { toCloseFrame } from './internal/close-frame.js';
import { isThenable, quiet, quietReject } from './internal/settle.js';
import type { StreamChunk } from './internal/stream-source.js';
import { toWsErrorMeaning } from './internal/ws-errors.js';
import type { Route } from './route.js';
import { type OfferResult, SerializedWriter, type StreamOptions } from './serialized-writer.js';
import { applyDeadline, checkDeadlines } from './timeout-policy.js';

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

  readonly #ws: WebSocket;
  readonly #host: ChannelHost;
  readonly #writer: SerializedWriter;
  readonly #intake: FrameIntake<TIn>;
  readonly #inbound: InboundDispatcher<TIn | InvalidMessage>;
  #rooms: Set<string> | undefined;
  #controller: AbortController | undefined;
  #opening = true;
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
    this.#writer = new SerializedWriter(init.ws, init.config.backpressure, this, init.socket);
    this.#intake = new FrameIntake(init.route.codec.createDecoder() as FrameDecoder<TIn>, this);
    const { limits, concurrency } = init.config;
    this.#inbound = new InboundDispatcher(this, limits.inboundQueue, concurrency);
    init.ws.on('message', this.#onMessage);
    init.ws.on('pong', this.#onLife);
    init.ws.on('ping', this.#onLife);
    init.ws.on('error', this.#onError);
    init.ws.on('close', this.#onClose);
  }

  /** For the deadline check: our own inbound backpressure paused the socket's reads. */
  get readsPaused(): boolean {
    return this.#inbound.paused;
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
    return this.roomSet;
  }

  /** @internal The mutable room set, for the manager. */
  get roomSet(): Set<string> {
    this.#rooms ??= new Set();
    return this.#rooms;
  }

  get stats(): ChannelStats {
    return {
      messagesIn: this.#intake.messagesIn,
      messagesOut: this.#writer.messagesOut,
      bytesIn: this.#intake.bytesIn,
      bytesOut: this.#writer.bytesOut,
      dropped: this.#writer.dropped,
      droppedIn: this.#intake.droppedIn,
      bufferedBytes: this.state === 'closed' ? 0 : this.#writer.queuedBytes,
      openedAt: this.openedAt,
      lastMessageAt: this.#intake.lastMessageAt,
    };
  }

  send(message: TOut): Promise<boolean> {
    if (this.#notOpen()) return quietReject(this.#closedError());
    const frame = encodeOrError(this.route.codec, message);
    if (frame instanceof WslaneError) return quietReject(frame);
    return this.#writer.send(frame.data, frame.binary);
  }

  trySend(message: TOut): boolean {
    if (this.#notOpen()) return false;
    const frame = encodeOrError(this.route.codec, message);
    return !(frame instanceof WslaneError) && this.#writer.trySend(frame.data, frame.binary);
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
    this.#inbound.discard();
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
      this.#openFailed(error);
      return;
    }
    if (isThenable(result)) result.then(this.#onOpened, this.#openFailed);
    else this.#onOpened();
  }

  /** Ends the channel because of `error`: report it, then close with its code or terminate. */
  fail(error: WslaneError, closeCode: number | 'terminate', reason = ''): void {
    if (this.state === 'closed') return;
    this.#report(error);
    if (closeCode === 'terminate' || this.state === 'closing') this.terminate();
    else this.#closeNow(closeCode, reason);
  }

  /** Shared-clock tick: acts on whichever deadline has passed. */
  checkDeadlines(now: number): void {
    applyDeadline(this, checkDeadlines(this, this.config.timeouts, now), now);
  }

  /** DeadlineTarget: the heartbeat's ping. */
  ping(now: number): void {
    this.pingSentAt = now;
    this.#ws.ping();
  }

  /** DeadlineTarget: a policy close (idle, lifetime) that is not an error. */
  expire(code: number, reason: string): void {
    this.#host.logger.debug('channel expired', { channel: this.id, code, reason });
    this.#closeNow(code, reason);
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

  /** Closes without flushing: queued sends are rejected, queued messages dropped. */
  #closeNow(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.#inbound.discard();
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
    this.#intake.receive(data, isBinary, now);
    this.#inbound.drain();
  };

  /** IntakeTarget: a decoded message (or a decode failure the route handles itself). */
  accept(item: TIn | InvalidMessage): void {
    this.#inbound.push(item);
  }

  /** IntakeTarget: the route has `onInvalidMessage`. */
  get keepsInvalidMessages(): boolean {
    return this.route.onInvalidMessage !== undefined;
  }

  readonly #onLife = (): void => {
    this.lastInboundAt = Date.now();
    this.pingSentAt = 0;
  };

  readonly #onError = (error: Error): void => {
    // ws closes the connection itself (1002, 1007, 1008, 1009) and reports why here.
    if (this.state === 'closed') return;
    const { code, closeCode } = toWsErrorMeaning(error);
    this.#report(new WslaneError(code, 'peer broke the protocol', { cause: error }));
    this.#inbound.discard();
    this.#beginClosing(closeCode, '');
    this.#writer.abort(this.#closedError());
  };

  readonly #onClose = (code: number, reason: Buffer): void => {
    if (this.state === 'open') this.#beginClosing(code, reason.toString());
    this.state = 'closed';
    this.#writer.abort(new ChannelClosedError(code, reason.toString()));
    this.#intake.reset();
    this.#ws.off('message', this.#onMessage);
    this.#ws.off('pong', this.#onLife);
    this.#ws.off('ping', this.#onLife);
    this.#ws.off('close', this.#onClose);
    // The 'error' listener stays: a late socket error must not become an uncaught exception.
    this.#closeCode = code;
    this.#closeReason = reason.toString();
    this.#host.release(this);
    this.#resolveClosed?.();
    this.onIdle();
  };

  readonly #onOpened = (): void => {
    this.#opening = false;
    this.#inbound.start();
  };

  readonly #openFailed = (error: unknown): void => {
    this.#opening = false;
    this.onHandlerFailed(error);
  };

  /** DispatchTarget: one handler call for one queued item. */
  deliver(item: TIn | InvalidMessage): unknown {
    return item instanceof InvalidMessage
      ? this.route.onInvalidMessage?.(item.error, this)
      : this.route.onMessage?.(item, this);
  }

  /** DispatchTarget: a handler threw or rejected. */
  onHandlerFailed(error: unknown): void {
    const failure = new WslaneError('WSLANE_HANDLER_FAILED', 'route handler failed', {
      cause: error,
    });
    this.fail(failure, 1011, 'internal error');
    this.onIdle();
  }

  /** DispatchTarget: the inbound queue is full. */
  pauseReads(): void {
    this.#ws.pause();
  }

  /** DispatchTarget: the inbound queue has room again. */
  resumeReads(): void {
    // The peer was not heard while paused: its clocks restart now.
    this.lastInboundAt = Date.now();
    this.lastDataAt = this.lastInboundAt;
    this.pingSentAt = 0;
    this.#ws.resume();
  }

  /** DispatchTarget, nothing queued or running: once closed, onClose runs (once). */
  onIdle(): void {
    if (this.state !== 'closed' || this.#onCloseDone || this.#opening || !this.#inbound.idle)
      return;
    this.#onCloseDone = true;
    this.#inbound.discard();
    try {
      const result = this.route.onClose?.(this, this.#closeCode, this.#closeReason);
      if (isThenable(result)) result.then(undefined, this.#onCloseFailed);
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
