import type { WebSocket } from 'ws';
import type { Channel, ChannelState, ChannelStats } from './channel.js';
import type { ChannelHost, ChannelInit } from './channel-host.js';
import { encodeOrError, type FrameDecoder } from './codec.js';
import type { ChannelConfig } from './config.js';
import { ChannelClosedError, WslaneError } from './errors.js';
import { InvalidMessage } from './frame-intake.js';
import { InboundDispatcher } from './inbound-dispatcher.js';
import { toCloseFrame } from './internal/close-frame.js';
import { monotonicNow, toEpochMs } from './internal/monotonic.js';
import { isThenable, quiet, quietReject } from './internal/settle.js';
import type { StreamChunk } from './internal/stream-source.js';
import { toWsErrorMeaning } from './internal/ws-errors.js';
import type { Route } from './route.js';
import {
  type LaneCounters,
  type OfferResult,
  SerializedWriter,
  type SharedFrame,
  type StreamOptions,
} from './serialized-writer.js';
import { applyDeadline, checkDeadlines } from './timeout-policy.js';

const WS_OPEN = 1;

/** Where a channel's ws points back to it, for the listeners every channel shares. */
const OWNER: unique symbol = Symbol('wslane.channel');

interface Owned {
  // biome-ignore lint/suspicious/noExplicitAny: the socket of a channel of any route.
  [OWNER]?: OpenChannel<any, any, any> | undefined;
}

/**
 * The runtime of one connection: wires a `ws` socket to its lane, its decoder, its handlers and
 * its deadlines. Created by the hub once the handshake is done.
 *
 * Memory per channel is a feature here: helpers are TypeScript `private` methods, not `#` ones
 * (a class with `#` methods stamps a brand on each instance, here and in the lane and the
 * dispatcher), and what a channel may never need is created on first use: the lane with the first
 * send, the inbound dispatcher with the first message, the closing state, rooms, the signal. A
 * lane that wrote nothing for a whole clock tick is dropped, and made again by the next send.
 */
export class OpenChannel<TIn = unknown, TOut = unknown, TContext = unknown>
  implements Channel<TOut, TContext>
{
  readonly id: string;
  readonly key: string | undefined;
  readonly context: TContext;
  readonly remoteAddress: string;
  /** Monotonic ms (see internal/monotonic.ts): every deadline of the channel is measured on it. */
  readonly openedAt: number = monotonicNow();
  readonly config: ChannelConfig;
  // biome-ignore lint/suspicious/noExplicitAny: see ChannelInit.route.
  readonly route: Route<any, any, TContext>;
  state: ChannelState = 'open';
  lastInboundAt: number = this.openedAt;
  lastDataAt: number = this.openedAt;
  /** When the outstanding ping was flushed; negated while it waits to leave; 0 = none. */
  #pingAt = 0;

  readonly #socket: ChannelInit<TContext>['socket'];
  /** The socket's bytes read as of the last tick. */
  #bytesRead: number;
  /** Wire bytes of the whole frames (messages, pings, pongs) ws reported since the last tick. */
  #framedBytes = 0;
  readonly #ws: WebSocket;
  readonly #host: ChannelHost;
  /** Created with a send, dropped again once a whole clock tick passed without one. */
  #writer: SerializedWriter | undefined;
  /** What a dropped lane had counted, kept until the next lane takes it over. */
  #laneCounters: LaneCounters | undefined;
  /** Created with the first message: a channel that never receives one holds no inbound state. */
  #inbound: InboundDispatcher<TIn> | undefined;
  #rooms: Set<string> | undefined;
  #controller: AbortController | undefined;
  #opening = true;
  /** Set when closing starts: an open channel holds none of the closing state. */
  #ending: Ending | undefined;

  constructor(init: ChannelInit<TContext>) {
    this.id = flattened(init.id);
    this.key = init.key;
    this.context = init.context;
    this.remoteAddress = init.remoteAddress;
    this.route = init.route;
    this.config = init.config;
    this.#ws = init.ws;
    this.#host = init.host;
    // Listeners shared by every channel find theirs through its ws: no closure per event.
    (init.ws as Owned)[OWNER] = this;
    init.ws.on('message', OpenChannel.#wsMessage);
    init.ws.on('pong', OpenChannel.#wsLife);
    init.ws.on('ping', OpenChannel.#wsPing);
    init.ws.on('error', OpenChannel.#wsError);
    init.ws.on('close', OpenChannel.#wsClose);
    this.#socket = init.socket;
    this.#bytesRead = bytesReadOf(init.socket);
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
    return this.#ws.protocol;
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

  /** @internal Whether the channel holds an outbound lane right now (tests of the quiet drop). */
  get holdsLane(): boolean {
    return this.#writer !== undefined;
  }

  get stats(): ChannelStats {
    return {
      messagesIn: this.#inbound?.messagesIn ?? 0,
      messagesOut: (this.#writer ?? this.#laneCounters)?.messagesOut ?? 0,
      bytesIn: this.#inbound?.bytesIn ?? 0,
      bytesOut: (this.#writer ?? this.#laneCounters)?.bytesOut ?? 0,
      dropped: (this.#writer ?? this.#laneCounters)?.dropped ?? 0,
      droppedIn: this.#inbound?.droppedIn ?? 0,
      bufferedBytes: this.state === 'closed' ? 0 : (this.#writer?.queuedBytes ?? 0),
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
      const writer = this.#writer;
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
    this.#writer?.abort(this.closedError());
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
      this.openFailed(error);
      return;
    }
    if (isThenable(result)) {
      result.then(
        () => this.onOpened(),
        (error: unknown) => this.openFailed(error),
      );
    } else this.onOpened();
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
    this.noticeArrivingMessage(now);
    applyDeadline(this, checkDeadlines(this, this.config.timeouts, now), now);
    const writer = this.#writer;
    if (writer?.quietSinceLastTick() === true && this.state === 'open') this.dropLane(writer);
  }

  /** Drops a lane quiet for a whole tick, keeping its counters: a quiet channel holds none. */
  private dropLane(writer: SerializedWriter): void {
    this.#laneCounters = {
      messagesOut: writer.messagesOut,
      bytesOut: writer.bytesOut,
      dropped: writer.dropped,
    };
    this.#writer = undefined;
  }

  /**
   * ws reports whole frames only. Bytes read since the last tick beyond the whole frames it
   * reported are a message still arriving (a big or slow one): the peer is alive and not idle.
   * Counted per tick rather than per socket read, so a channel adds no listener to its socket.
   */
  private noticeArrivingMessage(now: number): void {
    const read = bytesReadOf(this.#socket);
    const unframed = read - this.#bytesRead - this.#framedBytes;
    this.#bytesRead = read;
    this.#framedBytes = 0;
    if (unframed <= 0 || this.state !== 'open') return;
    this.lastInboundAt = now;
    this.lastDataAt = now;
    this.#pingAt = 0;
  }

  /** DeadlineTarget: the heartbeat's ping. */
  ping(now: number): void {
    this.#pingAt = -now;
    // The pong deadline runs from when the ping left, not from when it queued behind a big send
    // (a socket that never flushes is the send-stall deadline's to end).
    this.#ws.ping(undefined, undefined, () => {
      if (this.#pingAt === -now) this.#pingAt = monotonicNow();
    });
  }

  /** For the deadline check: when closing started (0 while open). */
  get closingAt(): number {
    return this.#ending?.closingAt ?? 0;
  }

  /** For the deadline check: when the outstanding ping left (0 = none; "now" while queued). */
  get pingSentAt(): number {
    return this.#pingAt < 0 ? monotonicNow() : this.#pingAt;
  }

  /** DeadlineTarget: a policy close (idle, lifetime) that is not an error. */
  expire(code: number, reason: string): void {
    this.#host.logger.debug('channel expired', { channel: this.id, code, reason });
    this.closeNow(code, reason);
  }

  /** For the deadline check: bytes wait in the lane or the socket. */
  get sending(): boolean {
    return (this.#writer?.queuedBytes ?? 0) > 0;
  }

  get lastProgressAt(): number {
    return this.#writer?.lastProgressAt ?? this.openedAt;
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

  /** The outbound lane, created with a message sent while there is none (call only while open). */
  private lane(): SerializedWriter {
    if (this.#writer === undefined) {
      this.#writer = new SerializedWriter(
        this.#ws,
        this.config.backpressure,
        this,
        this.#socket,
        this.#laneCounters,
      );
      this.#laneCounters = undefined;
    }
    return this.#writer;
  }

  private notOpen(): boolean {
    if (this.state !== 'open') return true;
    if (this.#ws.readyState !== WS_OPEN) {
      // The peer closed; ws tells us only once the socket is gone, but already holds the code
      // of the peer's close frame (the pinned ws keeps it in these fields), or none: a reset.
      const peer = this.#ws as unknown as { _closeFrameReceived?: boolean; _closeCode?: number };
      this.beginClosing(peer._closeFrameReceived === true ? (peer._closeCode ?? 1005) : 1006, '');
      this.#writer?.abort(this.closedError());
      return true;
    }
    return false;
  }

  /** Closes without flushing: queued sends are rejected, queued messages dropped. */
  private closeNow(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.#inbound?.discard();
    this.beginClosing(code, reason);
    this.#writer?.abort(this.closedError());
    this.sendCloseFrame();
  }

  private beginClosing(code: number, reason: string): void {
    if (this.state !== 'open') return;
    this.state = 'closing';
    // The peer's answer to our close frame must be readable even if our own backpressure paused
    // reads; messages arriving from now on are ignored anyway.
    if (this.#inbound?.paused) this.#ws.resume();
    this.#ending = {
      closingAt: monotonicNow(),
      code,
      reason,
      wireCode: 1005,
      wireReason: '',
      closed: undefined,
      resolveClosed: undefined,
      onCloseDone: false,
    };
    this.#controller?.abort(this.closedError());
  }

  private sendCloseFrame(): void {
    const ending = this.#ending;
    if (ending !== undefined && this.#ws.readyState === WS_OPEN) {
      this.#ws.close(ending.code, ending.reason);
    }
  }

  private closedError(): ChannelClosedError {
    return new ChannelClosedError(this.#ending?.code ?? 1005, this.#ending?.reason ?? '');
  }

  private whenClosed(): Promise<void> {
    const ending = this.#ending;
    if (this.state === 'closed' || ending === undefined) return Promise.resolve();
    ending.closed ??= quiet(
      new Promise<void>((resolve) => {
        ending.resolveClosed = resolve;
      }),
    );
    return ending.closed;
  }

  static readonly #wsMessage = function (this: WebSocket, data: Buffer, isBinary: boolean): void {
    const channel = (this as Owned)[OWNER];
    if (channel !== undefined) channel.onMessage(data, isBinary);
  };

  static readonly #wsLife = function (this: WebSocket, data: Buffer): void {
    const channel = (this as Owned)[OWNER];
    if (channel !== undefined) channel.onLife(data);
  };

  static readonly #wsPing = function (this: WebSocket, data: Buffer): void {
    const channel = (this as Owned)[OWNER];
    if (channel !== undefined) channel.onPing(data);
  };

  static readonly #wsError = function (this: WebSocket, error: Error): void {
    const channel = (this as Owned)[OWNER];
    if (channel !== undefined) channel.onError(error);
  };

  static readonly #wsClose = function (this: WebSocket, code: number, reason: Buffer): void {
    const channel = (this as Owned)[OWNER];
    if (channel !== undefined) channel.onClose(code, reason);
  };

  private onMessage(data: Buffer, isBinary: boolean): void {
    const now = monotonicNow();
    this.lastInboundAt = now;
    this.lastDataAt = now;
    this.#pingAt = 0;
    this.#framedBytes += clientFrameBytes(data.length);
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

  /** A ping or pong: life, but not data (idle runs on). */
  private onLife(data: Buffer): void {
    this.lastInboundAt = monotonicNow();
    this.#pingAt = 0;
    this.#framedBytes += clientFrameBytes(data.length);
  }

  private onPing(data: Buffer): void {
    this.onLife(data);
    // ws emits the ping after answering it, or after terminating the peer because more than
    // limits.maxPendingPongs answers already waited unflushed (it says so nowhere else).
    if (this.state === 'open' && this.#ws.readyState !== WS_OPEN && pongLimitReached(this.#ws)) {
      const error = new WslaneError('WSLANE_PING_FLOOD', 'peer pings faster than it reads pongs');
      this.fail(error, 'terminate');
    }
  }

  private onError(error: Error): void {
    // ws closes the connection itself (1002, 1007, 1008, 1009) and reports why here.
    if (this.state === 'closed') return;
    const { code, closeCode } = toWsErrorMeaning(error);
    this.report(new WslaneError(code, 'peer broke the protocol', { cause: error }));
    this.#inbound?.discard();
    this.beginClosing(closeCode, '');
    this.#writer?.abort(this.closedError());
  }

  private onClose(code: number, reason: Buffer): void {
    // The first close wins: a peer's code counts only when the peer started it.
    if (this.state === 'open') this.beginClosing(code, reason.toString());
    this.state = 'closed';
    this.#writer?.abort(this.closedError());
    this.#inbound?.reset();
    this.#ws.off('message', OpenChannel.#wsMessage);
    this.#ws.off('pong', OpenChannel.#wsLife);
    this.#ws.off('ping', OpenChannel.#wsPing);
    this.#ws.off('close', OpenChannel.#wsClose);
    const ending = this.#ending as Ending;
    ending.wireCode = code;
    ending.wireReason = reason.toString();
    // The 'error' listener stays: a late socket error must not become an uncaught exception.
    this.#host.release(this);
    ending.resolveClosed?.();
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
    this.#ws.pause();
  }

  /** DispatchTarget: the inbound queue has room again. */
  resumeReads(): void {
    // The peer was not heard while paused: its clocks restart now.
    this.lastInboundAt = monotonicNow();
    this.lastDataAt = this.lastInboundAt;
    this.#pingAt = 0;
    this.#ws.resume();
  }

  /** DispatchTarget, nothing queued or running: once closed, onClose runs (once). */
  onIdle(): void {
    const ending = this.#ending;
    if (ending === undefined || ending.onCloseDone || this.state !== 'closed') return;
    if (this.#opening || this.#inbound?.idle === false) return;
    ending.onCloseDone = true;
    this.#inbound?.discard();
    try {
      const result = this.route.onClose?.(this, ending.wireCode, ending.wireReason);
      if (isThenable(result)) result.then(undefined, (error: unknown) => this.onCloseFailed(error));
    } catch (error) {
      this.onCloseFailed(error);
    }
  }

  private onCloseFailed(error: unknown): void {
    this.report(new WslaneError('WSLANE_HANDLER_FAILED', 'onClose failed', { cause: error }));
  }

  private report(error: WslaneError): void {
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

/** How a channel ends, from the moment closing starts. */
interface Ending {
  /** Monotonic ms: the close-handshake deadline runs from here. */
  readonly closingAt: number;
  /** The code of the close that won (ours or the peer's): what signal and rejections carry. */
  readonly code: number;
  readonly reason: string;
  /** The connection's close code on the wire (RFC 6455 §7.1.5; 1006 without a close frame). */
  wireCode: number;
  wireReason: string;
  closed: Promise<void> | undefined;
  resolveClosed: (() => void) | undefined;
  onCloseDone: boolean;
}

/** ws's own count of unflushed automatic pongs has reached its limit (the pinned ws keeps both). */
function pongLimitReached(ws: WebSocket): boolean {
  const counts = ws as unknown as { _pendingAutoPongs?: number; _maxPendingAutoPongs?: number };
  const max = counts._maxPendingAutoPongs ?? 0;
  return max > 0 && (counts._pendingAutoPongs ?? 0) >= max;
}

/**
 * `randomUUID()` returns a rope of about 20 concatenated pieces (~490 bytes held per id); reading
 * one character flattens it in place to one 36-character string (~65 bytes).
 */
function flattened(id: string): string {
  id.charCodeAt(0);
  return id;
}

/**
 * Bytes a client's frame of `payload` bytes takes on the wire: header, mask key (clients always
 * mask, RFC 6455 §5.3) and payload. A fragmented message takes more; the surplus reads as a
 * message arriving, which it was.
 */
function clientFrameBytes(payload: number): number {
  return payload + 6 + (payload > 0xffff ? 8 : payload > 125 ? 2 : 0);
}

/** A `net.Socket`'s (or TLS socket's cleartext) byte count; 0 for a stream that keeps none. */
function bytesReadOf(socket: ChannelInit<unknown>['socket']): number {
  return (socket as { bytesRead?: number }).bytesRead ?? 0;
}
