import type { OverflowPolicy } from './config.js';
import { BackpressureError, ChannelClosedError, type WslaneError } from './errors.js';
import { type LaneEntry, LaneQueue } from './internal/lane-queue.js';
import { monotonicNow } from './internal/monotonic.js';
import { quietReject } from './internal/settle.js';
import { type Corkable, LaneOutput, type LaneSocket, type SharedFrame } from './lane-socket.js';

/** Size limits and overflow policy of one lane. */
export interface WriterLimits {
  readonly highWaterMark: number;
  readonly maxBufferedBytes: number;
  readonly overflow: OverflowPolicy;
}

/** What the lane tells its channel. */
export interface WriterHooks {
  /** Queued bytes would pass `maxBufferedBytes` under policy `close`. */
  onOverflow(): void;
  /** A streamed message failed after some of its frames were written: the peer holds half a message. */
  onStreamBroken(error: WslaneError): void;
}

/**
 * What a lane counts. A channel keeps them when it drops a quiet lane; the next lane goes on from
 * them.
 */
export interface LaneCounters {
  readonly messagesOut: number;
  readonly bytesOut: number;
  readonly dropped: number;
}

/** What became of one offered message. */
export type OfferResult = 'written' | 'queued' | 'dropped' | 'rejected' | 'closed';

/** A lane entry that may carry its whole frame, built once for many lanes (broadcast). */
export interface FramedEntry extends LaneEntry {
  readonly shared: SharedFrame | undefined;
}

const RESOLVED_FALSE = Promise.resolve(false);

/**
 * The bounded half of a lane: its queue, its counters, and the admission of each message under
 * `maxBufferedBytes` and the overflow policy. {@link SerializedWriter} builds the ordering, the
 * streams and the ending on it; one object per channel, as a base class.
 */
export abstract class BoundedLane extends LaneOutput implements LaneCounters {
  /** Messages handed to the socket. */
  messagesOut = 0;
  /** Payload bytes handed to the socket. */
  bytesOut = 0;
  /** Messages dropped by the overflow policy. */
  dropped = 0;
  protected readonly limits: WriterLimits;
  protected readonly hooks: WriterHooks;
  /** Created when the first message has to wait: a lane that writes straight through holds none. */
  protected queue: LaneQueue | undefined;
  protected state: 'open' | 'ending' | 'closed' = 'open';
  protected closedError: ChannelClosedError | undefined;
  /** Last flush reported by the socket, or when the lane went from empty to busy. */
  protected progressAt: number = monotonicNow();

  constructor(
    socket: LaneSocket,
    limits: WriterLimits,
    hooks: WriterHooks,
    corkable?: Corkable,
    counters?: LaneCounters,
  ) {
    super(socket, corkable);
    this.limits = limits;
    this.hooks = hooks;
    if (counters !== undefined) {
      this.messagesOut = counters.messagesOut;
      this.bytesOut = counters.bytesOut;
      this.dropped = counters.dropped;
    }
  }

  /** Bytes waiting in the lane plus bytes in the socket's buffer. */
  get queuedBytes(): number {
    return (this.queue?.bytes ?? 0) + this.bufferedAmount;
  }

  /**
   * Last time (ms epoch) the socket reported a flush of this lane's writes, the lane went from
   * empty to busy, or bytes started waiting in the socket.
   */
  get lastProgressAt(): number {
    return Math.max(this.progressAt, this.waitingSince);
  }

  /** True once the lane accepts nothing more (ending or closed). */
  get isClosed(): boolean {
    return this.state !== 'open';
  }

  /** The error sends are rejected with once the lane is closed. */
  protected closed(): ChannelClosedError {
    this.closedError ??= new ChannelClosedError();
    return this.closedError;
  }

  protected admit(bytes: number): OfferResult {
    if (this.state !== 'open') return 'closed';
    const max = this.limits.maxBufferedBytes;
    if (this.queuedBytes + bytes <= max) return 'queued';
    switch (this.limits.overflow) {
      case 'drop-newest':
        this.dropped++;
        return 'dropped';
      case 'drop-oldest':
        // Only lane bytes can be dropped (streams count 0): if the socket alone leaves no room,
        // dropping queued messages would lose them for nothing.
        if (this.bufferedAmount + bytes > max) {
          this.dropped++;
          return 'dropped';
        }
        this.dropOldest(bytes);
        if (this.queuedBytes + bytes <= max) return 'queued';
        this.dropped++;
        return 'dropped';
      case 'reject':
        return 'rejected';
      default:
        this.hooks.onOverflow();
        return 'closed';
    }
  }

  protected dropOldest(needed: number): void {
    const max = this.limits.maxBufferedBytes;
    this.queue?.dropOldest(
      this.streaming,
      () => this.queuedBytes + needed <= max,
      (entry) => {
        this.dropped++;
        entry.resolve?.(false);
      },
    );
  }

  protected canWriteNow(): boolean {
    return (
      this.queue?.head === undefined &&
      this.bufferedAmount < this.highWaterMark &&
      this.socketOpen()
    );
  }

  /**
   * A socket whose peer already closed takes no more data: what waits in the lane stays there
   * until the channel aborts it, so no send resolves as handed over when it never can be.
   */
  protected socketOpen(): boolean {
    const state = this.socket.readyState;
    return state === undefined || state === 1;
  }

  protected append(
    data: Buffer | string | undefined,
    binary: boolean | undefined,
    bytes: number,
    source: LaneEntry['source'],
    resolve: LaneEntry['resolve'],
    reject: LaneEntry['reject'],
    shared: SharedFrame | undefined,
  ): LaneEntry {
    const entry: FramedEntry = {
      next: undefined,
      data,
      binary,
      bytes,
      source,
      resolve,
      reject,
      shared,
    };
    this.queue ??= new LaneQueue();
    if (this.queue.append(entry)) this.progressAt = monotonicNow();
    // It waits for the socket: the socket must say when it drains.
    this.expectProgress();
    return entry;
  }

  protected write(
    data: Buffer | string,
    binary: boolean,
    fin: boolean,
    bytes: number,
    shared?: SharedFrame,
  ): void {
    if (shared === undefined) this.sendFrame(data, binary, fin);
    else this.sendShared(shared);
    this.bytesOut += bytes;
    if (fin) this.messagesOut++;
  }

  /** At least 1: a lane with `highWaterMark` 0 still writes one message at a time. */
  protected get highWaterMark(): number {
    return Math.max(1, this.limits.highWaterMark);
  }

  protected settled(verdict: OfferResult, bytes: number): Promise<boolean> {
    if (verdict === 'dropped') return RESOLVED_FALSE;
    if (verdict === 'rejected') {
      return quietReject(
        new BackpressureError(this.queuedBytes + bytes, this.limits.maxBufferedBytes),
      );
    }
    return quietReject(this.closed());
  }

  /** Whether a streamed message holds the lane (its queued bytes cannot be dropped). */
  protected abstract get streaming(): boolean;
}

/** Payload bytes of a message. */
export function byteLengthOf(data: Buffer | string): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.length;
}
