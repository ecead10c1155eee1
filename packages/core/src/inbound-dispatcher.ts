import type { FrameDecoder } from './codec.js';
import { FrameIntake, type IntakeTarget, type InvalidMessage } from './frame-intake.js';
import { Deque } from './internal/deque.js';
import { monotonicNow } from './internal/monotonic.js';
import { isThenable } from './internal/settle.js';

/** What the dispatcher drives: the handler calls and the socket's read side of one channel. */
export interface DispatchTarget<TItem> extends IntakeTarget {
  /** Calls the handler for one item; a returned thenable keeps its slot until it settles. */
  deliver(item: TItem): unknown;
  /** A handler threw or rejected. */
  onHandlerFailed(error: unknown): void;
  /** The queue is full: stop reading from the socket. */
  pauseReads(): void;
  /** The queue is half empty again: read on. */
  resumeReads(): void;
  /** Nothing is queued or running any more (called after every drain). */
  onIdle(): void;
}

/** Dispatcher state bits. */
const READY = 1;
const DISCARDING = 2;
const PAUSED = 4;

/**
 * The inbound side of one channel: what its {@link FrameIntake} decodes goes to the handler one
 * at a time (or `concurrency` at a time) in arrival order, straight away when nothing waits,
 * otherwise through a bounded queue (`limits.inboundQueue`) that also holds messages until the
 * channel is ready (`onOpen` done). A full queue pauses the socket's reads instead of buffering
 * more.
 */
export class InboundDispatcher<TIn> extends FrameIntake<TIn, DispatchTarget<TIn | InvalidMessage>> {
  /** Exists while messages wait: a channel whose handler keeps up holds no queue. */
  #queue: Deque<TIn | InvalidMessage> | undefined;
  #flags = 0;
  #running = 0;
  /** While reads are paused: when they paused or a handler call last finished since. */
  #progressAt = 0;

  /** `ready`: the channel's `onOpen` is done, deliver at once (otherwise wait for `start`). */
  constructor(
    decoder: FrameDecoder<TIn>,
    target: DispatchTarget<TIn | InvalidMessage>,
    ready: boolean,
  ) {
    super(decoder, target);
    if (ready) this.#flags = READY;
  }

  /** Reads are paused by this queue's own backpressure. */
  get paused(): boolean {
    return (this.#flags & PAUSED) !== 0;
  }

  /** While paused: when reads paused or a handler call last finished since (monotonic ms). */
  get progressAt(): number {
    return this.#progressAt;
  }

  /** True when nothing is queued (or deliverable) and no handler call is running. */
  get idle(): boolean {
    return (
      this.#running === 0 &&
      (this.#queue === undefined || this.#queue.length === 0 || (this.#flags & READY) === 0)
    );
  }

  protected accept(item: TIn | InvalidMessage): void {
    if (this.#flags & DISCARDING) return;
    if (
      this.#flags & READY &&
      (this.#queue === undefined || this.#queue.length === 0) &&
      this.#running < this.target.config.concurrency
    ) {
      // Nothing waits and a handler slot is free: straight to the handler, no queue.
      this.dispatch(item);
      return;
    }
    this.#queue ??= new Deque();
    this.#queue.push(item);
    if ((this.#flags & PAUSED) === 0 && this.#queue.length >= this.limit) {
      // TCP backpressure instead of buffering: the peer's sends stall in its own kernel.
      this.#flags |= PAUSED;
      this.#progressAt = monotonicNow();
      this.target.pauseReads();
    }
  }

  /** The channel is ready (`onOpen` done): start delivering. */
  start(): void {
    this.#flags |= READY;
    this.drain();
  }

  /** Drops what is queued and everything that arrives later (error closes). */
  discard(): void {
    this.#flags |= DISCARDING;
    this.#queue = undefined;
  }

  drain(): void {
    const queue = this.#queue;
    const concurrency = this.target.config.concurrency;
    while (
      queue !== undefined &&
      this.#flags & READY &&
      this.#running < concurrency &&
      queue.length > 0
    ) {
      if (!this.dispatch(queue.shift() as TIn | InvalidMessage)) return;
    }
    // A channel that went quiet holds no queue.
    if (queue?.length === 0 && this.#queue === queue) this.#queue = undefined;
    if (this.#flags & PAUSED && (queue === undefined || queue.length <= this.limit >> 1)) {
      this.#flags &= ~PAUSED;
      this.target.resumeReads();
    }
    if (this.idle) this.target.onIdle();
  }

  /** One handler call; false when it threw (the channel is failing: stop delivering). */
  private dispatch(item: TIn | InvalidMessage): boolean {
    this.#running++;
    let result: unknown;
    try {
      result = this.target.deliver(item);
    } catch (error) {
      this.#running--;
      this.target.onHandlerFailed(error);
      return false;
    }
    if (isThenable(result)) {
      // Callbacks per call rather than kept per channel: a quiet channel holds none.
      result.then(
        () => this.settled(),
        (error: unknown) => this.failed(error),
      );
    } else this.#running--;
    return true;
  }

  private get limit(): number {
    return this.target.config.limits.inboundQueue;
  }

  private settled(): void {
    this.finished();
    this.drain();
  }

  private failed(error: unknown): void {
    this.finished();
    this.target.onHandlerFailed(error);
  }

  /** An async handler call is done: its slot is free, and a paused queue made progress. */
  private finished(): void {
    this.#running--;
    if (this.#flags & PAUSED) this.#progressAt = monotonicNow();
  }
}
