import { Buffer } from 'node:buffer';
import type { LaneSocket, SendFrameOptions } from '../lane-socket.js';

/** One frame handed to {@link FakeLaneSocket.send}, in the order the writer sent it. */
export interface Frame {
  readonly data: Buffer | string;
  readonly binary: boolean;
  readonly fin: boolean;
  /**
   * `bufferedAmount` right before this frame was handed over. Present only when the socket was
   * built with `recordBuffered`: left off otherwise, so `toEqual` on frames stays about the frame.
   */
  readonly bufferedBefore?: number;
  /** `bufferedAmount` right after this frame was handed over; see {@link Frame.bufferedBefore}. */
  readonly bufferedAfter?: number;
}

/** A {@link Frame} of a socket built with `recordBuffered`: both buffer readings are there. */
export interface BufferedFrame extends Frame {
  readonly bufferedBefore: number;
  readonly bufferedAfter: number;
}

/** A write the socket has accepted and not completed yet. */
export interface PendingWrite {
  readonly bytes: number;
  readonly callback: (error?: Error) => void;
}

/** Options of a {@link FakeLaneSocket}. */
export interface FakeLaneSocketOptions {
  /** Record `bufferedBefore` and `bufferedAfter` on every frame (see {@link BufferedFrame}). */
  readonly recordBuffered?: boolean;
}

/**
 * A synchronous, deterministic stand-in for a `ws` socket: every send grows `bufferedAmount` by
 * its byte length and keeps its callback until {@link FakeLaneSocket.flush} completes it. Nothing
 * completes on its own, so a test decides exactly when the writer sees the socket drain.
 */
export class FakeLaneSocket implements LaneSocket {
  bufferedAmount = 0;
  /** Every frame handed over, oldest first. */
  readonly frames: Frame[] = [];
  /** Called after each send has been recorded, e.g. to log it or to act in the same tick. */
  onSend: ((frame: Frame) => void) | undefined;
  readonly #recordBuffered: boolean;
  readonly #pending: PendingWrite[] = [];

  constructor(options: FakeLaneSocketOptions = {}) {
    this.#recordBuffered = options.recordBuffered ?? false;
  }

  /** How many writes wait for {@link FakeLaneSocket.flush}. */
  get pendingWrites(): number {
    return this.#pending.length;
  }

  send(data: Buffer | string, options: SendFrameOptions, callback: (error?: Error) => void): void {
    const bytes = Buffer.byteLength(data);
    const bufferedBefore = this.bufferedAmount;
    this.bufferedAmount += bytes;
    const frame: Frame = this.#recordBuffered
      ? {
          data,
          binary: options.binary,
          fin: options.fin,
          bufferedBefore,
          bufferedAfter: this.bufferedAmount,
        }
      : { data, binary: options.binary, fin: options.fin };
    this.frames.push(frame);
    this.#pending.push({ bytes, callback });
    this.onSend?.(frame);
  }

  /**
   * Completes the oldest `count` writes (all by default) and returns how many it completed. Like
   * `ws`, the buffer shrinks before each callback, so a writer woken by one sees the room it has.
   */
  flush(count = Number.POSITIVE_INFINITY): number {
    let done = 0;
    while (done < count) {
      const write = this.#pending.shift();
      if (write === undefined) break;
      this.bufferedAmount -= write.bytes;
      done++;
      write.callback();
    }
    return done;
  }

  /** The frames' payloads as text, for asserting on the order of small string messages. */
  texts(): string[] {
    return this.frames.map((frame) => frame.data.toString());
  }
}
