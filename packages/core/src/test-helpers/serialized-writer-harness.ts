import { vi } from 'vitest';
import {
  type Corkable,
  SerializedWriter,
  type WriterHooks,
  type WriterLimits,
} from '../serialized-writer.js';
import { FakeLaneSocket } from './fake-lane-socket.js';

/** A writer on a {@link FakeLaneSocket}, with its hooks as spies. */
export interface Harness {
  readonly socket: FakeLaneSocket;
  readonly writer: SerializedWriter;
  readonly hooks: {
    readonly onOverflow: ReturnType<typeof vi.fn<WriterHooks['onOverflow']>>;
    readonly onStreamBroken: ReturnType<typeof vi.fn<WriterHooks['onStreamBroken']>>;
  };
}

/** What a {@link track}ed promise has done so far. */
export type Outcome<T> =
  | { readonly state: 'pending' }
  | { readonly state: 'fulfilled'; readonly value: T }
  | { readonly state: 'rejected'; readonly error: unknown };

/**
 * Builds a {@link Harness}: highWaterMark 1024, maxBufferedBytes 4096 and overflow 'close' unless
 * `limits` says otherwise.
 */
export function createHarness(limits: Partial<WriterLimits> = {}, corkable?: Corkable): Harness {
  const socket = new FakeLaneSocket();
  const hooks = {
    onOverflow: vi.fn<WriterHooks['onOverflow']>(),
    onStreamBroken: vi.fn<WriterHooks['onStreamBroken']>(),
  };
  const writer = new SerializedWriter(
    socket,
    { highWaterMark: 1024, maxBufferedBytes: 4096, overflow: 'close', ...limits },
    hooks,
    corkable,
  );
  return { socket, writer, hooks };
}

/** Watches a promise without awaiting it, so a test can assert it is still pending. */
export function track<T>(promise: Promise<T>): { readonly current: Outcome<T> } {
  const tracked: { current: Outcome<T> } = { current: { state: 'pending' } };
  promise.then(
    (value) => {
      tracked.current = { state: 'fulfilled', value };
    },
    (error: unknown) => {
      tracked.current = { state: 'rejected', error };
    },
  );
  return tracked;
}

/** Lets every queued microtask and nextTick run (no timer involved). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Completes socket writes one round at a time until nothing is left in flight. */
export async function drain(socket: FakeLaneSocket): Promise<void> {
  for (let round = 0; round < 1_000; round++) {
    await settle();
    if (socket.pendingWrites === 0) return;
    socket.flush();
  }
  throw new Error('the socket never drained');
}

/** The error `promise` rejects with; throws when it fulfills instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
