import { Buffer } from 'node:buffer';
import { expect } from 'vitest';
import type { Deferred } from '../internal/settle.js';
import type { WriterLimits } from '../serialized-writer.js';
import type { Outcome } from './serialized-writer-harness.js';

/** The ways a scenario hands one plain message to the writer. */
export type MessageVia = 'send' | 'trySend' | 'offer';

/** One step of a {@link Scenario}, run by `LaneModel.step`. */
export type Command =
  | { readonly kind: MessageVia; readonly pad: number; readonly binary: boolean }
  | {
      readonly kind: 'stream';
      readonly pads: readonly number[];
      readonly binary: boolean | undefined;
      readonly text: boolean;
      /** An async source that waits for a `release` before each chunk and before it ends. */
      readonly gated: boolean;
    }
  | { readonly kind: 'release'; readonly fail: boolean }
  | { readonly kind: 'flush'; readonly count: number }
  | { readonly kind: 'end' }
  | { readonly kind: 'abort' };

/** The limits of one random lane and the commands run against it. */
export interface Scenario {
  readonly limits: WriterLimits;
  /** The channel aborts the lane from inside `onOverflow`, as a real channel closing with 1013 does. */
  readonly abortOnOverflow: boolean;
  readonly commands: readonly Command[];
}

/** One frame the model expects a call to write. */
export interface ExpectedFrame {
  readonly bytes: Buffer;
  readonly binary: boolean;
  readonly fin: boolean;
}

/** What the model knows about one call. */
export interface Entry {
  readonly id: number;
  readonly via: MessageVia | 'stream';
  readonly frames: readonly ExpectedFrame[];
  /** Bytes the lane accounts for while queued (0 for a stream). */
  readonly bytes: number;
  framesWritten: number;
  fate: 'queued' | 'written' | 'dropped' | 'rejected';
  /** Gates of a gated stream source, opened in order by `release` commands. */
  readonly gates: readonly Deferred<void>[];
  gatesOpened: number;
  sourceFailed: boolean;
  /** The exact error (an instance) or error code a rejected call must carry. */
  expectedError: unknown;
  outcome: Outcome<unknown> | undefined;
}

/** The verdict the model predicts for a new message. */
export type Admission = 'written' | 'queued' | 'dropped' | 'rejected' | 'closed' | 'overflow';

/** A predicted verdict and the queued messages that drop-oldest drops to make room. */
export interface Prediction {
  readonly verdict: Admission;
  readonly drops: Entry[];
}

/** What {@link predictAdmission} reads: the model's own lane and the socket's buffer. */
export interface LaneState {
  readonly lane: readonly Entry[];
  readonly buffered: number;
  readonly limits: WriterLimits;
  readonly highWaterMark: number;
}

/** A stream source that waits for `gates[i]` before chunk `i` and for the last gate before it ends. */
export async function* gatedSource(
  chunks: readonly (string | Uint8Array)[],
  gates: readonly Deferred<void>[],
): AsyncGenerator<string | Uint8Array> {
  for (const [index, chunk] of chunks.entries()) {
    await gates[index]?.promise;
    yield chunk;
  }
  await gates[chunks.length]?.promise;
}

/** Records in `entry.outcome` how `promise` settles. */
export function observe(entry: Entry, promise: Promise<unknown>): void {
  entry.outcome = { state: 'pending' };
  promise.then(
    (value) => {
      entry.outcome = { state: 'fulfilled', value };
    },
    (error: unknown) => {
      entry.outcome = { state: 'rejected', error };
    },
  );
}

/** The bytes the lane accounts for while `entries` are queued. */
export function sumBytes(entries: readonly Entry[]): number {
  return entries.reduce((total, entry) => total + entry.bytes, 0);
}

/** A new {@link Entry}: queued, nothing written, no gate opened, no outcome yet. */
export function createEntry(
  id: number,
  via: Entry['via'],
  frames: readonly ExpectedFrame[],
  bytes: number,
  gates: readonly Deferred<void>[],
): Entry {
  return {
    id,
    via,
    frames,
    bytes,
    framesWritten: 0,
    fate: 'queued',
    gates,
    gatesOpened: 0,
    sourceFailed: false,
    expectedError: undefined,
    outcome: undefined,
  };
}

/** The frames a stream of `chunks` must write: one empty fin frame when there is no chunk. */
export function expectedStreamFrames(
  chunks: readonly (string | Uint8Array)[],
  binary: boolean | undefined,
): ExpectedFrame[] {
  const frameBinary = binary ?? (chunks.length === 0 || typeof chunks[0] !== 'string');
  return chunks.length === 0
    ? [{ bytes: Buffer.alloc(0), binary: frameBinary, fin: true }]
    : chunks.map((chunk, index) => ({
        bytes: Buffer.from(chunk),
        binary: frameBinary,
        fin: index === chunks.length - 1,
      }));
}

/** The admission rule of the spec, for a message of `bytes` on an open lane. */
export function predictAdmission(
  { lane, buffered, limits, highWaterMark }: LaneState,
  bytes: number,
): Prediction {
  const max = limits.maxBufferedBytes;
  const total = sumBytes(lane) + buffered;
  const fastPath = (laneEmpty: boolean): Admission =>
    laneEmpty && buffered < highWaterMark ? 'written' : 'queued';
  if (total + bytes <= max) return { verdict: fastPath(lane.length === 0), drops: [] };
  switch (limits.overflow) {
    case 'drop-newest':
      return { verdict: 'dropped', drops: [] };
    case 'reject':
      return { verdict: 'rejected', drops: [] };
    case 'close':
      return { verdict: 'overflow', drops: [] };
    case 'drop-oldest': {
      const droppable = lane.filter((entry) => entry.via !== 'stream');
      // Dropping queued messages is only worth it when it lets the new one in.
      if (total - sumBytes(droppable) + bytes > max) return { verdict: 'dropped', drops: [] };
      const drops: Entry[] = [];
      let remaining = total;
      for (const entry of droppable) {
        if (remaining + bytes <= max) break;
        drops.push(entry);
        remaining -= entry.bytes;
      }
      return { verdict: fastPath(lane.length === drops.length), drops };
    }
  }
}

/** Checks that the promise of a call (if it has one) answered what its fate says. */
export function checkOutcome(entry: Entry): void {
  const outcome = entry.outcome;
  if (outcome === undefined) return;
  const label = `outcome of call ${entry.id} (${entry.via}, ${entry.fate})`;
  switch (entry.fate) {
    case 'queued':
      expect(outcome.state, label).toBe('pending');
      return;
    case 'written':
      expect(outcome, label).toEqual({
        state: 'fulfilled',
        value: entry.via === 'stream' ? undefined : true,
      });
      return;
    case 'dropped':
      expect(outcome, label).toEqual({ state: 'fulfilled', value: false });
      return;
    case 'rejected': {
      expect(outcome.state, label).toBe('rejected');
      const error = outcome.state === 'rejected' ? outcome.error : undefined;
      if (typeof entry.expectedError === 'string') {
        expect(error, label).toMatchObject({ code: entry.expectedError });
      } else {
        expect(error, label).toBe(entry.expectedError);
      }
    }
  }
}
