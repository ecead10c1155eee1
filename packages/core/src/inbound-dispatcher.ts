import { Deque } from './internal/deque.js';
import { isThenable } from './internal/settle.js';

/** What the dispatcher drives: the handler calls and the socket's read side of one channel. */
export interface DispatchTarget<TItem> {
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

/**
 * The inbound side of one channel: a bounded queue of decoded messages, handed to the handler one
 * at a time (or `concurrency` at a time) in arrival order, held until the channel is ready
 * (`onOpen` done). A full queue pauses the socket's reads instead of buffering more.
 */
export class InboundDispatcher<TItem> {
  /** Created with the first message: an idle channel holds no queue. */
  #queue: Deque<TItem> | undefined;
  readonly #target: DispatchTarget<TItem>;
  readonly #limit: number;
  readonly #concurrency: number;
  #ready = false;
  #discarding = false;
  #running = 0;
  #paused = false;
  /** Settle callbacks of async handlers, created with the first one. */
  #settled: (() => void) | undefined;
  #failed: ((error: unknown) => void) | undefined;

  constructor(target: DispatchTarget<TItem>, limit: number, concurrency: number) {
    this.#target = target;
    this.#limit = limit;
    this.#concurrency = concurrency;
  }

  /** Reads are paused by this queue's own backpressure. */
  get paused(): boolean {
    return this.#paused;
  }

  /** True when nothing is queued (or deliverable) and no handler call is running. */
  get idle(): boolean {
    return (
      this.#running === 0 && (this.#queue === undefined || this.#queue.length === 0 || !this.#ready)
    );
  }

  push(item: TItem): void {
    if (this.#discarding) return;
    this.#queue ??= new Deque<TItem>();
    this.#queue.push(item);
    if (!this.#paused && this.#queue.length >= this.#limit) {
      // TCP backpressure instead of buffering: the peer's sends stall in its own kernel.
      this.#paused = true;
      this.#target.pauseReads();
    }
  }

  /** The channel is ready (`onOpen` done): start delivering. */
  start(): void {
    this.#ready = true;
    this.drain();
  }

  /** Drops what is queued and everything that arrives later (error closes). */
  discard(): void {
    this.#discarding = true;
    this.#queue = undefined;
  }

  drain(): void {
    const queue = this.#queue;
    while (
      queue !== undefined &&
      this.#ready &&
      this.#running < this.#concurrency &&
      queue.length > 0
    ) {
      const item = queue.shift() as TItem;
      this.#running++;
      let result: unknown;
      try {
        result = this.#target.deliver(item);
      } catch (error) {
        this.#running--;
        this.#target.onHandlerFailed(error);
        return;
      }
      if (isThenable(result)) result.then(this.#onSettled(), this.#onFailed());
      else this.#running--;
    }
    if (this.#paused && (queue === undefined || queue.length <= this.#limit >> 1)) {
      this.#paused = false;
      this.#target.resumeReads();
    }
    if (this.idle) this.#target.onIdle();
  }

  #onSettled(): () => void {
    this.#settled ??= () => {
      this.#running--;
      this.drain();
    };
    return this.#settled;
  }

  #onFailed(): (error: unknown) => void {
    this.#failed ??= (error: unknown) => {
      this.#running--;
      this.#target.onHandlerFailed(error);
    };
    return this.#failed;
  }
}
