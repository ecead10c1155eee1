import type { Channel, ChannelState, ChannelStats } from './channel.js';
import { ChannelEnding } from './channel-ending.js';
import type { ChannelHost, ChannelInit } from './channel-host.js';
import { encodeOrError, type FrameDecoder } from './codec.js';
import type { ChannelConfig } from './config.js';
import { ChannelClosedError, WslaneError } from './errors.js';
import { InvalidMessage } from './frame-intake.js';
import { InboundDispatcher } from './inbound-dispatcher.js';
import { toCloseFrame } from './internal/close-frame.js';
import { monotonicNow, toEpochMs } from './internal/monotonic.js';
import { callHook, quietReject } from './internal/settle.js';
import type { StreamChunk } from './internal/stream-source.js';
import { toWsErrorMeaning } from './internal/ws-errors.js';
import { peerCloseCode, pongLimitReached } from './internal/ws-internals.js';
import { LaneHolder } from './lane-holder.js';
import { reportError } from './report-error.js';
import type { Route } from './route.js';
import type { OfferResult, SharedFrame, StreamOptions } from './serialized-writer.js';
import { applyDeadline, checkDeadlines } from './timeout-policy.js';
import { listenTo, stopListening, type WsEventSink } from './ws-listeners.js';

const WS_OPEN = 1;

/**
 * The runtime of one connection: wires a `ws` socket to its lane, its decoder, its handlers and
 * its deadlines. Created by the hub once the handshake is done.
 *
 * Memory per channel is a feature here: helpers are TypeScript `private` methods, not `#` ones
 * (a class with `#` methods stamps a brand on each instance, here and in the lane and the
 * dispatcher), and what a channel may never need is created on first use: the lane with the first
 * send, the inbound dispatcher with the first message, the closing state, rooms, the signal. A
 * lane that wrote nothing for a whole clock tick is dropped, and made again by the next send.
 * What the peer's liveness and the lane's life need sits in base classes ({@link PeerLiveness},
 * {@link LaneHolder}) rather than in objects of their own, for the same reason.
 */
export class OpenChannel<TIn = unknown, TOut = unknown, TContext = unknown>
  extends LaneHolder
  implements Channel<TOut, TContext>, WsEventSink
{
  readonly id: string;
  readonly key: string | undefined;
  readonly context: TContext;
  readonly remoteAddress: string;
  readonly config: ChannelConfig;
  // biome-ignore lint/suspicious/noExplicitAny: see ChannelInit.route.
  readonly route: Route<any, any, TContext>;
  state: ChannelState = 'open';

  readonly #host: ChannelHost;
  /** Created with the first message: a channel that never receives one holds no inbound state. */
  #inbound: InboundDispatcher<TIn> | undefined;
  #rooms: Set<string> | undefined;
  #controller: AbortController | undefined;
  #opening = true;
  /** Set when closing starts: an open channel holds none of the closing state. */
  #ending: ChannelEnding | undefined;

  constructor(init: ChannelInit<TContext>) {
    super(init.ws, init.socket);
    this.id = init.id;
    this.key = init.key;
    this.context = init.context;
    this.remoteAddress = init.remoteAddress;
    this.route = init.route;
    this.config = init.config;
    this.#host = init.host;
    listenTo(init.ws, this);
  }

  /** For the deadline check: our own inbound backpressure paused the socket's reads. */
  get readsPaused(): boolean {
    return this.#inbound?.paused ?? false;
  }

  /** For the deadline check: the inbound side's progress while reads are paused. */
  get handlerProgressAt(): number {
    return this.#inbound?.progressAt ?? 0;
  }

  get protocol(): string {
    return this.ws.protocol;
  }

  get routeName(): string {
    return this.route.name;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      // Created on first use: most channels never need one, and each costs memory.
      this.#controller = new AbortController();
      if (this.state !== 'open') this.#controller.abort(this.closedError());
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
      messagesIn: this.#inbound?.messagesIn ?? 0,
      messagesOut: this.laneCounters?.messagesOut ?? 0,
      bytesIn: this.#inbound?.bytesIn ?? 0,
      bytesOut: this.laneCounters?.bytesOut ?? 0,
      dropped: this.laneCounters?.dropped ?? 0,
      droppedIn: this.#inbound?.droppedIn ?? 0,
      bufferedBytes: this.state === 'closed' ? 0 : (this.writer?.queuedBytes ?? 0),
      openedAt: toEpochMs(this.openedAt),
      lastMessageAt: toEpochMs(this.#inbound?.lastMessageAt ?? 0),
    };
  }

  send(message: TOut): Promise<boolean> {
    if (this.notOpen()) return quietReject(this.closedError());
    const frame = encodeOrError(this.route.codec, message);
    if (frame instanceof WslaneError) return quietReject(frame);
    return this.lane().send(frame.data, frame.binary);
  }

  trySend(message: TOut): boolean {
    if (this.notOpen()) return false;
    const frame = encodeOrError(this.route.codec, message);
    return !(frame instanceof WslaneError) && this.lane().trySend(frame.data, frame.binary);
  }

  /** @internal Hands a message framed once for every member to the lane (broadcast). */
  offerFrame(shared: SharedFrame): OfferResult {
    if (this.notOpen()) return 'closed';
    return this.lane().offerShared(shared);
  }

  sendStream(
    chunks: Iterable<StreamChunk> | AsyncIterable<StreamChunk>,
    options?: StreamOptions,
  ): Promise<void> {
    if (this.notOpen()) return quietReject(this.closedError());
    return this.lane().sendStream(chunks, options);
  }

  close(code = 1000, reason = ''): Promise<void> {
    const frame = toCloseFrame(code, reason);
    if (this.state === 'open') {
      this.beginClosing(frame.code, frame.reason);
      // Graceful: everything queued leaves before the close frame. With nothing queued it leaves
      // now, so a close frame of the peer's in the same read cannot overtake ours.
      const writer = this.writer;
      if (writer === undefined || writer.idle) {
        void writer?.end();
        this.sendCloseFrame();
      } else {
        void writer.end().then(() => this.sendCloseFrame());
      }
    }
    return this.whenClosed();
  }

  terminate(): void {
    if (this.state === 'closed') return;
    if (this.state === 'open') this.beginClosing(1006, '');
    this.#inbound?.discard();
    this.writer?.abort(this.closedError());
    this.ws.terminate();
  }

  join(room: string): void {
    if (this.state === 'open') this.#host.join(this, room);
  }

  leave(room: string): void {
    this.#host.leave(this, room);
  }

  /** Starts the handlers; called by the hub once the channel is registered. */
  start(): void {
    callHook(
      () => this.route.onOpen?.(this),
      () => this.onOpened(),
      (error) => this.openFailed(error),
    );
  }

  /** Ends the channel because of `error`: report it, then close with its code or terminate. */
  fail(error: WslaneError, closeCode: number | 'terminate', reason = ''): void {
    if (this.state === 'closed') return;
    this.report(error);
    if (closeCode === 'terminate' || this.state === 'closing') this.terminate();
    else this.closeNow(closeCode, reason);
  }

  /** Shared-clock tick: acts on whichever deadline has passed. */
  checkDeadlines(now: number): void {
    this.noticeArrivingMessage(now, this.state === 'open');
    applyDeadline(this, checkDeadlines(this, this.config.timeouts, now), now);
    if (this.state === 'open') this.dropQuietLane();
  }

  /** DeadlineTarget: the heartbeat's ping. */
  ping(now: number): void {
    this.sendPing(this.ws, now);
  }

  /** For the deadline check: when closing started (0 while open). */
  get closingAt(): number {
    return this.#ending?.closingAt ?? 0;
  }

  /** DeadlineTarget: a policy close (idle, lifetime) that is not an error. */
  expire(code: number, reason: string): void {
    this.#host.logger.debug('channel expired', { channel: this.id, code, reason });
    this.closeNow(code, reason);
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

  private notOpen(): boolean {
    if (this.state !== 'open') return true;
    if (this.ws.readyState !== WS_OPEN) {
      // The peer closed; ws tells us only once the socket is gone, but already knows the code.
      this.beginClosing(peerCloseCode(this.ws), '');
      this.writer?.abort(this.closedError());
      return true;
    }
    return false;
  }

  /** Closes without flushing: queued sends are rejected, queued messages dropped. */
  private closeNow(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.#inbound?.discard();
    this.beginClosing(code, reason);
    this.writer?.abort(this.closedError());
    this.sendCloseFrame();
  }

  private beginClosing(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    // The peer's answer to our close frame must be readable even if our own backpressure paused
    // reads; messages arriving from now on are ignored anyway.
    if (this.#inbound?.paused) this.ws.resume();
    this.#ending = new ChannelEnding(code, reason);
    this.#controller?.abort(this.closedError());
  }

  private sendCloseFrame(): void {
    const ending = this.#ending;
    if (ending !== undefined && this.ws.readyState === WS_OPEN) {
      this.ws.close(ending.code, ending.reason);
    }
  }

  private closedError(): ChannelClosedError {
    return this.#ending?.toError() ?? new ChannelClosedError(1005, '');
  }

  private whenClosed(): Promise<void> {
    const ending = this.#ending;
    if (this.state === 'closed' || ending === undefined) return Promise.resolve();
    return ending.whenClosed();
  }

  /** @internal ws listener: a message. */
  onWsMessage(data: Buffer, isBinary: boolean): void {
    const now = monotonicNow();
    this.heardData(data.length, now);
    if (this.state !== 'open') return;
    this.#inbound ??= new InboundDispatcher(
      this.route.codec.createDecoder() as FrameDecoder<TIn>,
      this,
      !this.#opening,
    );
    this.#inbound.receive(data, isBinary, now);
    this.#inbound.drain();
  }

  /** IntakeTarget: the route has `onInvalidMessage`. */
  get keepsInvalidMessages(): boolean {
    return this.route.onInvalidMessage !== undefined;
  }

  /** @internal ws listener: a pong is life, but not data (idle runs on). */
  onWsPong(data: Buffer): void {
    this.heardLife(data.length, monotonicNow());
  }

  /** @internal ws listener: a ping, which ws answered. */
  onWsPing(data: Buffer): void {
    this.heardLife(data.length, monotonicNow());
    // ws emits the ping after answering it, or after terminating the peer because more than
    // limits.maxPendingPongs answers already waited unflushed (it says so nowhere else).
    if (this.state === 'open' && this.ws.readyState !== WS_OPEN && pongLimitReached(this.ws)) {
      const error = new WslaneError('WSLANE_PING_FLOOD', 'peer pings faster than it reads pongs');
      this.fail(error, 'terminate');
    }
  }

  /** @internal ws listener. */
  onWsError(error: Error): void {
    // ws closes the connection itself (1002, 1007, 1008, 1009) and reports why here.
    if (this.state === 'closed') return;
    const { code, closeCode } = toWsErrorMeaning(error);
    this.report(new WslaneError(code, 'peer broke the protocol', { cause: error }));
    this.#inbound?.discard();
    this.beginClosing(closeCode, '');
    this.writer?.abort(this.closedError());
  }

  /** @internal ws listener: the socket is gone. */
  onWsClose(code: number, reason: Buffer): void {
    // The first close wins: a peer's code counts only when the peer started it.
    if (this.state === 'open') this.beginClosing(code, reason.toString());
    this.state = 'closed';
    this.writer?.abort(this.closedError());
    this.#inbound?.reset();
    stopListening(this.ws);
    this.#host.release(this);
    (this.#ending as ChannelEnding).socketClosed(code, reason.toString());
    this.onIdle();
  }

  // Methods, not arrow fields: a closure per channel for calls most channels never make.
  private onOpened(): void {
    this.#opening = false;
    this.#inbound?.start();
  }

  private openFailed(error: unknown): void {
    this.#opening = false;
    this.onHandlerFailed(error);
  }

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
    this.ws.pause();
  }

  /** DispatchTarget: the inbound queue has room again. */
  resumeReads(): void {
    this.restartClocks();
    this.ws.resume();
  }

  /** DispatchTarget, nothing queued or running: once closed, onClose runs (once). */
  onIdle(): void {
    const ending = this.#ending;
    if (ending === undefined || ending.onCloseDone || this.state !== 'closed') return;
    if (this.#opening || this.#inbound?.idle === false) return;
    ending.onCloseDone = true;
    this.#inbound?.discard();
    callHook(
      () => this.route.onClose?.(this, ending.wireCode, ending.wireReason),
      undefined,
      (error) => this.onCloseFailed(error),
    );
  }

  private onCloseFailed(error: unknown): void {
    this.report(new WslaneError('WSLANE_HANDLER_FAILED', 'onClose failed', { cause: error }));
  }

  private report(error: WslaneError): void {
    reportError(this.route, this, this.#host.logger, error);
  }
}
