import { BoundedLane, byteLengthOf, type FramedEntry, type OfferResult } from './bounded-lane.js';
import { BackpressureError, type ChannelClosedError, WslaneError } from './errors.js';
import type { LaneEntry } from './internal/lane-queue.js';
import { monotonicNow } from './internal/monotonic.js';
import { quiet, quietReject } from './internal/settle.js';
import { type StreamChunk, toStreamIterator, toStreamPayload } from './internal/stream-source.js';
import type { SharedFrame } from './lane-socket.js';

export type { LaneCounters, OfferResult, WriterHooks, WriterLimits } from './bounded-lane.js';
export type { Corkable, LaneSocket, SendFrameOptions, SharedFrame } from './lane-socket.js';

/** Options of {@link SerializedWriter.sendStream}. */
export interface StreamOptions {
  /** Frame type of the message; by default binary unless the first chunk is a string. */
  readonly binary?: boolean;
}

const RESOLVED_TRUE = Promise.resolve(true);

/** The streamed message that holds the lane: its source, and its wait for the socket to drain. */
interface RunningStream {
  iterator: ReturnType<typeof toStreamIterator> | undefined;
  waiter: (() => void) | undefined;
}

/**
 * The outbound lane of one channel: FIFO, bounded by bytes (lane + socket buffer), with an
 * overflow policy. Messages are handed to the socket in call order; a streamed message holds the
 * lane until its last frame, so nothing lands between its frames. It is its own
 * {@link LaneOutput} (one object per channel, not two).
 */
export class SerializedWriter extends BoundedLane {
  /** The streamed message holding the lane, if one does. */
  #stream: RunningStream | undefined;
  #emptyWaiters: (() => void)[] | undefined;

  protected get streaming(): boolean {
    return this.#stream !== undefined;
  }

  /** True while nothing waits in the lane and no stream runs. */
  get idle(): boolean {
    return this.isIdle();
  }

  /**
   * For the clock's tick: true when the lane wrote nothing since the last tick and owes nothing to
   * anyone (open, nothing queued or streaming, nobody waiting, every write flushed). Such a lane
   * can be dropped and a new one made by the next send; a lane in steady use is kept.
   */
  quietSinceLastTick(): boolean {
    return (
      !this.wroteSinceLastCheck() &&
      this.state === 'open' &&
      this.isIdle() &&
      this.#emptyWaiters === undefined &&
      this.settledOutput
    );
  }

  /**
   * Queues one message. Resolves `true` once it is handed to the socket (at once while the lane is
   * under `highWaterMark`), `false` when the overflow policy dropped it.
   * Rejects with `ChannelClosedError` after close and `BackpressureError` under policy `reject`.
   */
  send(data: Buffer | string, binary: boolean): Promise<boolean> {
    const bytes = byteLengthOf(data);
    const verdict = this.admit(bytes);
    if (verdict !== 'queued') return this.settled(verdict, bytes);
    if (this.canWriteNow()) {
      this.write(data, binary, true, bytes);
      return RESOLVED_TRUE;
    }
    return quiet(
      new Promise<boolean>((resolve, reject) => {
        this.append(data, binary, bytes, undefined, resolve, reject, undefined);
      }),
    );
  }

  /** Like {@link send} without a promise: true when the message was written or queued. */
  trySend(data: Buffer | string, binary: boolean): boolean {
    const result = this.offer(data, binary);
    return result === 'written' || result === 'queued';
  }

  /** Queues a message nobody awaits (broadcast fan-out) and says what became of it. */
  offer(data: Buffer | string, binary: boolean, bytes: number = byteLengthOf(data)): OfferResult {
    const verdict = this.admit(bytes);
    if (verdict !== 'queued') return verdict;
    if (this.canWriteNow()) {
      this.write(data, binary, true, bytes);
      return 'written';
    }
    this.append(data, binary, bytes, undefined, undefined, undefined, undefined);
    return 'queued';
  }

  /**
   * Like {@link offer} for a message framed once for many lanes: when the socket takes raw
   * frames, the lane writes the shared frame itself (same place in the lane, same byte count);
   * otherwise it sends the payload through the socket as usual.
   */
  offerShared(shared: SharedFrame): OfferResult {
    const bytes = shared.data.length;
    // The common case of a broadcast, with the socket's counters read once: an empty lane, room
    // under highWaterMark and maxBufferedBytes, an open socket.
    const buffered = this.bufferedAmount;
    if (
      this.state === 'open' &&
      this.queue?.head === undefined &&
      buffered < this.highWaterMark &&
      buffered + bytes <= this.limits.maxBufferedBytes &&
      this.socketOpen()
    ) {
      this.write(shared.data, shared.binary, true, bytes, shared);
      return 'written';
    }
    const verdict = this.admit(bytes);
    if (verdict !== 'queued') return verdict;
    if (this.canWriteNow()) {
      this.write(shared.data, shared.binary, true, bytes, shared);
      return 'written';
    }
    this.append(shared.data, shared.binary, bytes, undefined, undefined, undefined, shared);
    return 'queued';
  }

  /**
   * Sends one message as several frames, one per chunk. Holds the lane until the last frame, so no
   * other message lands between its frames. Each frame waits until the socket is under
   * `highWaterMark`. Resolves when the final frame is handed to the socket.
   */
  sendStream(
    chunks: Iterable<StreamChunk> | AsyncIterable<StreamChunk>,
    options: StreamOptions = {},
  ): Promise<void> {
    if (this.state !== 'open') return quietReject(this.closed());
    return quiet(
      new Promise<void>((resolve, reject) => {
        const onDone = (): void => resolve();
        const entry = this.append(undefined, options.binary, 0, chunks, onDone, reject, undefined);
        if (this.queue?.isOnly(entry)) this.flush();
      }),
    );
  }

  /**
   * Accepts nothing more and resolves once everything queued has been handed to the socket
   * (or the lane was aborted). The caller sends the close frame after it.
   */
  end(): Promise<void> {
    if (this.state === 'open') this.state = 'ending';
    if (this.state === 'closed' || this.isIdle()) {
      this.flushHeld();
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#emptyWaiters ??= [];
      this.#emptyWaiters.push(resolve);
    });
  }

  /** Drops everything queued, rejecting the awaiting senders with `error`. Idempotent. */
  abort(error: ChannelClosedError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closedError = error;
    // Handed over is handed over: a frame held for the end of the tick leaves before any close.
    this.flushHeld();
    let entry = this.queue?.takeAll();
    while (entry !== undefined) {
      entry.reject?.(error);
      entry = entry.next;
    }
    this.wakeProgress();
    this.notifyEmpty();
    this.closeIterator();
  }

  /** Lets a generator run its finally blocks instead of waiting for a next() nobody will make. */
  private closeIterator(): void {
    try {
      void Promise.resolve(this.#stream?.iterator?.return?.()).catch(ignore);
    } catch {
      // A sync generator that is running right now (it called abort itself) cannot be returned.
    }
  }

  protected onSocketProgress(): void {
    this.progressAt = monotonicNow();
    this.wakeProgress();
    if (this.queue?.head !== undefined && this.#stream === undefined) this.flush();
  }

  private flush(): void {
    const lane = this.queue;
    while (lane?.head !== undefined && this.#stream === undefined && this.state !== 'closed') {
      if (this.bufferedAmount >= this.highWaterMark) {
        this.expectProgress();
        return;
      }
      if (!this.socketOpen()) return;
      const entry = lane.head;
      if (entry.source !== undefined) {
        const stream: RunningStream = { iterator: undefined, waiter: undefined };
        this.#stream = stream;
        void this.runStream(stream, entry, entry.source);
        return;
      }
      lane.shift();
      const data = entry.data as Buffer | string;
      this.write(data, entry.binary === true, true, entry.bytes, (entry as FramedEntry).shared);
      entry.resolve?.(true);
    }
    if (this.isIdle()) this.notifyEmpty();
  }

  private async runStream(
    stream: RunningStream,
    entry: LaneEntry,
    source: NonNullable<LaneEntry['source']>,
  ): Promise<void> {
    let wroteFrames = false;
    try {
      const iterator = toStreamIterator(source);
      stream.iterator = iterator;
      let held: Buffer | string | undefined;
      let binary = entry.binary;
      for (;;) {
        const step = await iterator.next();
        if (step.done) break;
        const chunk = toStreamPayload(step.value);
        binary ??= typeof chunk !== 'string';
        if (held !== undefined) {
          await this.writeFrame(stream, held, binary, false, entry);
          wroteFrames = true;
        }
        held = chunk;
      }
      await this.writeFrame(stream, held ?? Buffer.alloc(0), binary ?? true, true, entry);
    } catch (error) {
      if (this.state === 'closed' && this.queue?.head !== entry) return;
      const failure = toStreamFailure(error);
      this.queue?.shift();
      entry.reject?.(failure);
      if (wroteFrames) {
        // The peer holds half a message; no later data frame may follow it (RFC 6455 §5.4).
        // The channel closes first, so what is queued behind is rejected with its close code.
        this.hooks.onStreamBroken(failure);
        this.abort(this.closed());
      }
    } finally {
      this.#stream = undefined;
      if (this.state !== 'closed') this.flush();
    }
  }

  private async writeFrame(
    stream: RunningStream,
    data: Buffer | string,
    binary: boolean,
    fin: boolean,
    entry: LaneEntry,
  ): Promise<void> {
    while (this.bufferedAmount >= this.highWaterMark && this.state !== 'closed') {
      this.expectProgress();
      await new Promise<void>((resolve) => {
        stream.waiter = resolve;
      });
    }
    if (this.state === 'closed' || !this.socketOpen()) throw this.closed();
    const bytes = byteLengthOf(data);
    if (this.queuedBytes + bytes > this.limits.maxBufferedBytes) {
      if (this.limits.overflow === 'close') this.hooks.onOverflow();
      throw new BackpressureError(this.queuedBytes + bytes, this.limits.maxBufferedBytes);
    }
    this.write(data, binary, fin, bytes);
    if (fin) {
      // Done the moment the last frame is handed over: an abort after this must not reject it.
      this.queue?.shift();
      entry.resolve?.(true);
    }
  }

  private wakeProgress(): void {
    const stream = this.#stream;
    const waiter = stream?.waiter;
    if (stream === undefined || waiter === undefined) return;
    stream.waiter = undefined;
    waiter();
  }

  private isIdle(): boolean {
    return this.queue?.head === undefined && this.#stream === undefined;
  }

  private notifyEmpty(): void {
    if (this.#emptyWaiters === undefined) return;
    // The waiters send the close frame next: what this tick held back goes first.
    this.flushHeld();
    const waiters = this.#emptyWaiters;
    this.#emptyWaiters = undefined;
    for (const waiter of waiters) waiter();
  }
}

function ignore(): void {}

function toStreamFailure(error: unknown): WslaneError {
  if (error instanceof WslaneError) return error;
  return new WslaneError('WSLANE_STREAM_FAILED', 'streamed message source failed', {
    cause: error,
  });
}
