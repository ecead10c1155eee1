import type { StreamChunk } from './stream-source.js';

/** One queued message of a lane: a frame, or a stream (source set, 0 bytes until it runs). */
export interface LaneEntry {
  next: LaneEntry | undefined;
  readonly data: Buffer | string | undefined;
  readonly binary: boolean | undefined;
  readonly bytes: number;
  readonly source: Iterable<StreamChunk> | AsyncIterable<StreamChunk> | undefined;
  resolve: ((delivered: boolean) => void) | undefined;
  reject: ((error: unknown) => void) | undefined;
}

/** The FIFO behind a lane: a singly linked list with a byte count, O(1) at both ends. */
export class LaneQueue {
  head: LaneEntry | undefined;
  #tail: LaneEntry | undefined;
  /** Bytes of the queued frames (streams count 0). */
  bytes = 0;

  /** Appends an entry; true when the queue was empty. */
  append(entry: LaneEntry): boolean {
    const wasEmpty = this.#tail === undefined;
    if (this.#tail === undefined) this.head = entry;
    else this.#tail.next = entry;
    this.#tail = entry;
    this.bytes += entry.bytes;
    return wasEmpty;
  }

  /** True when `entry` is the only one queued. */
  isOnly(entry: LaneEntry): boolean {
    return this.head === entry && this.#tail === entry;
  }

  shift(): void {
    const entry = this.head;
    if (entry === undefined) return;
    this.head = entry.next;
    if (this.head === undefined) this.#tail = undefined;
    this.bytes -= entry.bytes;
  }

  /**
   * Drops queued frames oldest first (never a stream, never the running head) until `fits()`,
   * handing each dropped entry to `onDrop`.
   */
  dropOldest(skipHead: boolean, fits: () => boolean, onDrop: (entry: LaneEntry) => void): void {
    let previous = skipHead ? this.head : undefined;
    let entry = previous === undefined ? this.head : previous.next;
    while (entry !== undefined && !fits()) {
      const next = entry.next;
      if (entry.source === undefined) {
        if (previous === undefined) this.head = next;
        else previous.next = next;
        if (this.#tail === entry) this.#tail = previous;
        this.bytes -= entry.bytes;
        onDrop(entry);
      } else {
        previous = entry;
      }
      entry = next;
    }
  }

  /** Empties the queue and returns its first entry (the rest follow through `next`). */
  takeAll(): LaneEntry | undefined {
    const head = this.head;
    this.head = undefined;
    this.#tail = undefined;
    this.bytes = 0;
    return head;
  }
}
