import type { StreamChunk } from './internal/stream-source.js';
import type { StreamOptions } from './serialized-writer.js';

/** `open` until closing starts, `closing` until the socket is gone, then `closed`. */
export type ChannelState = 'open' | 'closing' | 'closed';

/** Counters of one channel, as plain data. */
export interface ChannelStats {
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Outbound messages dropped by the overflow policy. */
  readonly dropped: number;
  /** Inbound messages dropped by the rate limit (action `drop`). */
  readonly droppedIn: number;
  /** Bytes queued right now: lane plus socket buffer. */
  readonly bufferedBytes: number;
  /**
   * ms epoch, read off the process's monotonic clock (`performance.timeOrigin` plus elapsed), so
   * a wall-clock step after the process started does not move it.
   */
  readonly openedAt: number;
  /** ms epoch (the same clock) of the last inbound message, 0 when none arrived yet. */
  readonly lastMessageAt: number;
}

/**
 * One open connection: its identity, context from the upgrade, its ordered outbound lane and its
 * rooms. Every method is safe to call in any state: nothing throws after close.
 */
export interface Channel<TOut = unknown, TContext = unknown> {
  /** Unique id (a UUID). */
  readonly id: string;
  /** Session key from the route's `key` function, if any. */
  readonly key: string | undefined;
  /** What the upgrade's middleware attached (user, session, params, query). */
  readonly context: TContext;
  /** Negotiated subprotocol, or `''`. */
  readonly protocol: string;
  /** Client IP (per `trustProxy`). */
  readonly remoteAddress: string;
  /** Name of the route that opened the channel. */
  readonly routeName: string;
  readonly state: ChannelState;
  /** Aborted exactly once, when the channel starts closing; its reason is a `ChannelClosedError`. */
  readonly signal: AbortSignal;
  readonly rooms: ReadonlySet<string>;
  readonly stats: ChannelStats;
  /**
   * Sends one message through the lane. Resolves `true` once handed to the socket (at once under
   * `highWaterMark`, after drain above it), `false` when the overflow policy dropped it.
   * Rejects with `ChannelClosedError` when closing or closed, `BackpressureError` (policy
   * `reject`), or `WSLANE_CODEC_ENCODE`; never throws, and the rejection is never unhandled.
   */
  send(message: TOut): Promise<boolean>;
  /** {@link send} without a promise: `true` when written or queued, `false` otherwise. */
  trySend(message: TOut): boolean;
  /**
   * Sends one message as several frames (one per chunk, raw bytes or text, no codec). No other
   * message is written between its frames.
   */
  sendStream(
    chunks: Iterable<StreamChunk> | AsyncIterable<StreamChunk>,
    options?: StreamOptions,
  ): Promise<void>;
  /**
   * Flushes the lane, sends a close frame and resolves once the socket is closed (or terminated at
   * the close deadline). Idempotent: later calls return the same promise.
   *
   * @throws {WslaneError} `WSLANE_INVALID_ARGUMENT` for a code a peer may not receive.
   */
  close(code?: number, reason?: string): Promise<void>;
  /** Destroys the socket now; queued sends reject with `ChannelClosedError`. */
  terminate(): void;
  join(room: string): void;
  leave(room: string): void;
}
