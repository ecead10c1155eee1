import { Buffer } from 'node:buffer';
import { describe, expect, it, vi } from 'vitest';
import type { OverflowPolicy } from './config.js';
import { ChannelClosedError, WslaneError } from './errors.js';
import { createDeferred } from './internal/settle.js';
import {
  type Corkable,
  SerializedWriter,
  type WriterHooks,
  type WriterLimits,
} from './serialized-writer.js';
import { FakeLaneSocket } from './test-helpers/fake-lane-socket.js';

interface Harness {
  readonly socket: FakeLaneSocket;
  readonly writer: SerializedWriter;
  readonly hooks: {
    readonly onOverflow: ReturnType<typeof vi.fn<WriterHooks['onOverflow']>>;
    readonly onStreamBroken: ReturnType<typeof vi.fn<WriterHooks['onStreamBroken']>>;
  };
}

function createHarness(limits: Partial<WriterLimits> = {}, corkable?: Corkable): Harness {
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

type Outcome<T> =
  | { readonly state: 'pending' }
  | { readonly state: 'fulfilled'; readonly value: T }
  | { readonly state: 'rejected'; readonly error: unknown };

/** Watches a promise without awaiting it, so a test can assert it is still pending. */
function track<T>(promise: Promise<T>): { readonly current: Outcome<T> } {
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
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Completes socket writes one round at a time until nothing is left in flight. */
async function drain(socket: FakeLaneSocket): Promise<void> {
  for (let round = 0; round < 1_000; round++) {
    await settle();
    if (socket.pendingWrites === 0) return;
    socket.flush();
  }
  throw new Error('the socket never drained');
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * Runs a scenario with `unhandledRejection` routed to a local list, so a leak fails this test by
 * assertion instead of crashing the run; the global listeners are restored afterwards.
 */
async function unhandledRejectionsOf(scenario: () => Promise<void> | void): Promise<unknown[]> {
  const previous = process.listeners('unhandledRejection');
  const seen: unknown[] = [];
  const onUnhandledRejection = (reason: unknown): void => {
    seen.push(reason);
  };
  process.removeAllListeners('unhandledRejection');
  process.on('unhandledRejection', onUnhandledRejection);
  try {
    await scenario();
    await settle();
    await settle();
  } finally {
    process.off('unhandledRejection', onUnhandledRejection);
    for (const listener of previous) process.on('unhandledRejection', listener);
  }
  return seen;
}

describe('SerializedWriter', () => {
  describe('send', () => {
    it('writes at once and resolves true while the lane is empty and under highWaterMark', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 16 });
      const sent = track(writer.send('hello', false));
      expect(socket.frames).toEqual([{ data: 'hello', binary: false, fin: true }]);
      await Promise.resolve();
      expect(sent.current).toEqual({ state: 'fulfilled', value: true });
      expect(writer.messagesOut).toBe(1);
      expect(writer.bytesOut).toBe(5);
    });

    it('passes the frame type through and always sets fin on a plain message', () => {
      const { socket, writer } = createHarness();
      void writer.send(Buffer.from([1, 2, 3]), true);
      void writer.send('text', false);
      expect(socket.frames.map(({ binary, fin }) => ({ binary, fin }))).toEqual([
        { binary: true, fin: true },
        { binary: false, fin: true },
      ]);
    });

    it('keeps a send pending until the socket drains under highWaterMark, then resolves true', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 4 });
      void writer.send('1234', false);
      const next = track(writer.send('next', false));
      const then = track(writer.send('then', false));
      await settle();
      expect(socket.texts()).toEqual(['1234']);
      expect(next.current.state).toBe('pending');
      expect(writer.queuedBytes).toBe(12);

      // One completed write brings the buffer to 0: 'next' goes out and fills it to 4 again.
      socket.flush(1);
      expect(socket.texts()).toEqual(['1234', 'next']);
      await settle();
      expect(next.current).toEqual({ state: 'fulfilled', value: true });
      expect(then.current.state).toBe('pending');

      socket.flush(1);
      expect(socket.texts()).toEqual(['1234', 'next', 'then']);
      await settle();
      expect(then.current).toEqual({ state: 'fulfilled', value: true });
    });

    it('hands messages over in call order across producers that await every send', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1 });
      const calls: string[] = [];
      const produce = async (name: string): Promise<void> => {
        for (let index = 0; index < 4; index++) {
          const text = `${name}${index}`;
          calls.push(text);
          await writer.send(text, false);
        }
      };
      const producers = Promise.all([produce('a'), produce('b'), produce('c')]);
      for (let round = 0; round < 50 && socket.pendingWrites > 0; round++) {
        socket.flush(1);
        await settle();
      }
      await producers;
      expect(calls).toHaveLength(12);
      expect(socket.texts()).toEqual(calls);
      expect(writer.messagesOut).toBe(12);
    });

    it('mixes send, offer and trySend in one FIFO order', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1 });
      void writer.send('m0', false);
      expect(writer.offer('m1', false)).toBe('queued');
      void writer.send('m2', false);
      expect(writer.trySend('m3', false)).toBe(true);
      expect(writer.offer('m4', false)).toBe('queued');
      await drain(socket);
      expect(socket.texts()).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    });

    it('reports written for an offer that goes straight to the socket', () => {
      const { socket, writer } = createHarness();
      expect(writer.offer('now', false)).toBe('written');
      expect(socket.texts()).toEqual(['now']);
    });

    it('counts UTF-8 bytes of strings in queuedBytes and bytesOut', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1 });
      void writer.send('é', false);
      void writer.send('€', false);
      expect(writer.queuedBytes).toBe(5);
      await drain(socket);
      expect(writer.bytesOut).toBe(5);
      expect(writer.queuedBytes).toBe(0);
    });

    it('uses the byte count given to offer for accounting', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1, maxBufferedBytes: 100 });
      void writer.send('x', false);
      expect(writer.offer('abc', false, 90)).toBe('queued');
      expect(writer.queuedBytes).toBe(91);
      expect(writer.offer('abc', false, 10)).toBe('closed');
      await drain(socket);
      expect(writer.bytesOut).toBe(91);
    });
  });

  describe('overflow policies', () => {
    interface FilledLane {
      readonly harness: Harness;
      readonly sends: readonly [Promise<boolean>, Promise<boolean>];
    }

    // Every case: 6 bytes in the socket (over highWaterMark 4) + 4 queued = exactly the limit 10.
    function fillToLimit(overflow: OverflowPolicy): FilledLane {
      const harness = createHarness({ highWaterMark: 4, maxBufferedBytes: 10, overflow });
      const first = harness.writer.send('wwwwww', false);
      const second = harness.writer.send('qqqq', false);
      expect(harness.writer.queuedBytes).toBe(10);
      return { harness, sends: [first, second] };
    }

    /** Drains the socket: both messages that filled the lane must have gone out, in order. */
    async function expectFillDelivered({
      harness,
      sends: [first, second],
    }: FilledLane): Promise<void> {
      await drain(harness.socket);
      await expect(first).resolves.toBe(true);
      await expect(second).resolves.toBe(true);
      expect(harness.socket.texts()).toEqual(['wwwwww', 'qqqq']);
    }

    it('accepts a message that brings queued bytes exactly to maxBufferedBytes', async () => {
      // Nothing overflows here, so the policy is moot: 'close' is the harness default.
      await expectFillDelivered(fillToLimit('close'));
    });

    it('close: calls onOverflow and refuses the message as closed', async () => {
      const { harness, sends } = fillToLimit('close');
      const error = await rejectionOf(harness.writer.send('x', false));
      expect(error).toBeInstanceOf(ChannelClosedError);
      expect(error).toMatchObject({ code: 'WSLANE_CHANNEL_CLOSED' });
      expect(harness.hooks.onOverflow).toHaveBeenCalledTimes(1);
      expect(harness.writer.offer('x', false)).toBe('closed');
      expect(harness.writer.trySend('x', false)).toBe(false);
      expect(harness.hooks.onOverflow).toHaveBeenCalledTimes(3);
      expect(harness.writer.queuedBytes).toBe(10);
      expect(harness.writer.dropped).toBe(0);
      await drain(harness.socket);
      await expect(Promise.all(sends)).resolves.toEqual([true, true]);
      expect(harness.socket.texts()).toEqual(['wwwwww', 'qqqq']);
    });

    it('drop-newest: resolves the new message false and counts it', async () => {
      const filled = fillToLimit('drop-newest');
      const { harness } = filled;
      await expect(harness.writer.send('x', false)).resolves.toBe(false);
      expect(harness.writer.offer('x', false)).toBe('dropped');
      expect(harness.writer.trySend('x', false)).toBe(false);
      expect(harness.writer.dropped).toBe(3);
      expect(harness.writer.queuedBytes).toBe(10);
      expect(harness.hooks.onOverflow).not.toHaveBeenCalled();
      await expectFillDelivered(filled);
    });

    it('reject: rejects with BackpressureError carrying the byte counts', async () => {
      const { harness, sends } = fillToLimit('reject');
      const error = await rejectionOf(harness.writer.send('xy', false));
      expect(error).toMatchObject({
        name: 'BackpressureError',
        code: 'WSLANE_QUEUE_FULL',
        queuedBytes: 12,
        maxBufferedBytes: 10,
      });
      expect(harness.writer.offer('x', false)).toBe('rejected');
      expect(harness.writer.trySend('x', false)).toBe(false);
      expect(harness.writer.dropped).toBe(0);
      expect(harness.hooks.onOverflow).not.toHaveBeenCalled();
      expect(harness.writer.queuedBytes).toBe(10);
      await drain(harness.socket);
      await expect(Promise.all(sends)).resolves.toEqual([true, true]);
    });

    /** A drop-oldest lane limited to 12 bytes whose socket already holds 4 (at highWaterMark). */
    function dropOldestBehindFullSocket(): Harness {
      const harness = createHarness({
        highWaterMark: 4,
        maxBufferedBytes: 12,
        overflow: 'drop-oldest',
      });
      // 'wwww' goes straight out and is never dropped: the cases watch what queues behind it.
      void harness.writer.send('wwww', false);
      return harness;
    }

    it('drop-oldest: drops the oldest queued messages until the new one fits', async () => {
      const harness = createHarness({
        highWaterMark: 4,
        maxBufferedBytes: 13,
        overflow: 'drop-oldest',
      });
      const { socket, writer } = harness;
      const written = writer.send('wwww', false);
      const oldest = writer.send('a1x', false);
      expect(writer.offer('a2x', false)).toBe('queued');
      const kept = writer.send('a3x', false);
      expect(writer.queuedBytes).toBe(13);

      // 13 + 3 > 13: dropping a1x (3 bytes) is enough.
      const newest = writer.send('bbb', false);
      expect(writer.dropped).toBe(1);
      expect(writer.queuedBytes).toBe(13);
      await expect(oldest).resolves.toBe(false);

      // 13 + 6 > 13: drops the offered a2x, then a3x.
      const last = writer.send('cccccc', false);
      expect(writer.dropped).toBe(3);
      expect(writer.queuedBytes).toBe(13);
      await expect(kept).resolves.toBe(false);

      await drain(socket);
      await expect(written).resolves.toBe(true);
      await expect(newest).resolves.toBe(true);
      await expect(last).resolves.toBe(true);
      expect(socket.texts()).toEqual(['wwww', 'bbb', 'cccccc']);
      expect(writer.messagesOut).toBe(3);
      expect(harness.hooks.onOverflow).not.toHaveBeenCalled();
    });

    it('drop-oldest: drops only the new message when dropping the queue could not make it fit', async () => {
      const { socket, writer } = dropOldestBehindFullSocket();
      const first = writer.send('q1x', false);
      const second = writer.send('q2x', false);
      // The socket holds 4 bytes: 4 + 10 > 12 even with an empty lane, so dropping q1x and q2x
      // would lose them for nothing.
      await expect(writer.send('n'.repeat(10), false)).resolves.toBe(false);
      expect(writer.dropped).toBe(1);
      expect(writer.queuedBytes).toBe(10);
      await drain(socket);
      await expect(first).resolves.toBe(true);
      await expect(second).resolves.toBe(true);
      expect(socket.texts()).toEqual(['wwww', 'q1x', 'q2x']);
    });

    it('drop-oldest: never drops a queued stream', async () => {
      const { socket, writer } = dropOldestBehindFullSocket();
      const before = writer.send('a1x', false);
      const stream = writer.sendStream(['ss']);
      const after = writer.send('a2x', false);
      const newest = writer.send('bbbbbb', false);
      await expect(before).resolves.toBe(false);
      await expect(after).resolves.toBe(false);
      expect(writer.dropped).toBe(2);
      await drain(socket);
      await expect(stream).resolves.toBeUndefined();
      await expect(newest).resolves.toBe(true);
      expect(socket.texts()).toEqual(['wwww', 'ss', 'bbbbbb']);
    });

    it('drop-oldest: never drops a running stream, only messages queued behind it', async () => {
      const { socket, writer, hooks } = createHarness({
        highWaterMark: 2,
        maxBufferedBytes: 12,
        overflow: 'drop-oldest',
      });
      const gate = createDeferred<void>();
      async function* source(): AsyncGenerator<string> {
        yield 'aa';
        yield 'bb';
        await gate.promise;
        yield 'cc';
      }
      const stream = writer.sendStream(source());
      await settle();
      expect(socket.texts()).toEqual(['aa']);
      socket.flush();

      const q1 = writer.send('q1xx', false);
      const q2 = writer.send('q2xx', false);
      const newest = writer.send('n1xxxx', false);
      await expect(q1).resolves.toBe(false);
      expect(writer.dropped).toBe(1);
      expect(writer.queuedBytes).toBe(10);

      gate.resolve();
      await drain(socket);
      await expect(stream).resolves.toBeUndefined();
      await expect(q2).resolves.toBe(true);
      await expect(newest).resolves.toBe(true);
      expect(socket.texts()).toEqual(['aa', 'bb', 'cc', 'q2xx', 'n1xxxx']);
      expect(hooks.onStreamBroken).not.toHaveBeenCalled();
    });
  });

  describe('sendStream', () => {
    it('sends a sync iterable as fin=false frames and one final fin=true frame', async () => {
      const { socket, writer } = createHarness();
      await expect(writer.sendStream(['ab', 'cd', 'é'])).resolves.toBeUndefined();
      expect(socket.frames).toEqual([
        { data: 'ab', binary: false, fin: false },
        { data: 'cd', binary: false, fin: false },
        { data: 'é', binary: false, fin: true },
      ]);
      expect(writer.messagesOut).toBe(1);
      expect(writer.bytesOut).toBe(6);
    });

    it('sends Uint8Array chunks of an async generator as binary frames with their exact bytes', async () => {
      const { socket, writer } = createHarness();
      const backing = new Uint8Array([9, 1, 2, 3, 4, 9]);
      async function* source(): AsyncGenerator<Uint8Array> {
        yield backing.subarray(1, 3);
        yield new Uint8Array([5]);
        yield backing.subarray(3, 5);
      }
      await writer.sendStream(source());
      expect(socket.frames.map(({ binary, fin }) => ({ binary, fin }))).toEqual([
        { binary: true, fin: false },
        { binary: true, fin: false },
        { binary: true, fin: true },
      ]);
      expect(socket.frames.map((frame) => [...Buffer.from(frame.data)])).toEqual([
        [1, 2],
        [5],
        [3, 4],
      ]);
      expect(writer.bytesOut).toBe(5);
    });

    it('sends one empty fin frame for an empty iterable, binary unless told otherwise', async () => {
      const { socket, writer } = createHarness();
      await writer.sendStream([]);
      await writer.sendStream([], { binary: false });
      expect(socket.frames).toEqual([
        { data: Buffer.alloc(0), binary: true, fin: true },
        { data: Buffer.alloc(0), binary: false, fin: true },
      ]);
      expect(writer.messagesOut).toBe(2);
      expect(writer.bytesOut).toBe(0);
    });

    it('uses the binary option over the type of the first chunk', async () => {
      const { socket, writer } = createHarness();
      await writer.sendStream(['a', 'b'], { binary: true });
      expect(socket.frames.map((frame) => frame.binary)).toEqual([true, true]);
    });

    it('waits for the socket to drain under highWaterMark before each frame', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 4 });
      const stream = track(writer.sendStream(['aaaa', 'bbbb', 'cccc']));
      await settle();
      expect(socket.texts()).toEqual(['aaaa']);
      socket.flush(1);
      await settle();
      expect(socket.texts()).toEqual(['aaaa', 'bbbb']);
      expect(stream.current.state).toBe('pending');
      socket.flush(1);
      await settle();
      expect(socket.frames.map((frame) => frame.fin)).toEqual([false, false, true]);
      expect(stream.current.state).toBe('fulfilled');
    });

    it('lets no other message in between its frames while producers keep sending', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1_000 });
      const gates = [createDeferred<void>(), createDeferred<void>(), createDeferred<void>()];
      async function* source(): AsyncGenerator<string> {
        yield 's0';
        await gates[0]?.promise;
        yield 's1';
        await gates[1]?.promise;
        yield 's2';
        await gates[2]?.promise;
        yield 's3';
      }
      const calls: string[] = [];
      const send = (text: string): Promise<boolean> => {
        calls.push(text);
        return writer.send(text, false);
      };
      const produce = async (name: string): Promise<void> => {
        for (let index = 0; index < 3; index++) await send(`${name}${index}`);
      };

      await send('before');
      const stream = writer.sendStream(source());
      const producers = Promise.all([produce('p'), produce('q')]);
      calls.push('o0');
      expect(writer.offer('o0', false)).toBe('queued');
      for (const gate of gates) {
        await settle();
        socket.flush();
        calls.push(`t-${calls.length}`);
        expect(writer.trySend(calls.at(-1) ?? '', false)).toBe(true);
        gate.resolve();
      }
      await stream;
      await drain(socket);
      await producers;

      const texts = socket.texts();
      expect(texts.slice(0, 5)).toEqual(['before', 's0', 's1', 's2', 's3']);
      expect(socket.frames.slice(1, 5).map((frame) => frame.fin)).toEqual([
        false,
        false,
        false,
        true,
      ]);
      expect(texts.slice(5)).toEqual(calls.slice(1));
      expect(texts).toHaveLength(calls.length + 4);
    });

    it('rejects with WSLANE_STREAM_FAILED when the source fails before any frame, and the lane goes on', async () => {
      const { socket, writer, hooks } = createHarness({ highWaterMark: 4 });
      const cause = new Error('source failed');
      function* source(): Generator<string> {
        yield 'only-held';
        throw cause;
      }
      void writer.send('wwww', false);
      const stream = rejectionOf(writer.sendStream(source()));
      const after = writer.send('after', false);
      await drain(socket);
      const error = await stream;
      expect(error).toBeInstanceOf(WslaneError);
      expect(error).toMatchObject({ code: 'WSLANE_STREAM_FAILED', cause });
      await expect(after).resolves.toBe(true);
      expect(socket.texts()).toEqual(['wwww', 'after']);
      expect(writer.isClosed).toBe(false);
      expect(hooks.onStreamBroken).not.toHaveBeenCalled();
      await expect(writer.send('later', false)).resolves.toBe(true);
    });

    it('rejects with the WslaneError the source threw', async () => {
      const { writer } = createHarness();
      const thrown = new WslaneError('WSLANE_CODEC_ENCODE', 'cannot encode');
      async function* source(): AsyncGenerator<string> {
        yield* [];
        throw thrown;
      }
      await expect(writer.sendStream(source())).rejects.toBe(thrown);
    });

    it('rejects without throwing when the source is not iterable', async () => {
      const { writer } = createHarness();
      let stream: Promise<void> | undefined;
      expect(() => {
        stream = writer.sendStream(42 as unknown as Iterable<string>);
      }).not.toThrow();
      await expect(stream).rejects.toMatchObject({ code: 'WSLANE_STREAM_FAILED' });
    });

    it('aborts the lane and reports a broken stream when the source fails after a frame', async () => {
      const { socket, writer, hooks } = createHarness({ highWaterMark: 1_000 });
      const gate = createDeferred<void>();
      async function* source(): AsyncGenerator<string> {
        yield 'a';
        yield 'b';
        await gate.promise;
        throw new Error('source failed');
      }
      const stream = rejectionOf(writer.sendStream(source()));
      await settle();
      expect(socket.texts()).toEqual(['a']);
      const queued = rejectionOf(writer.send('queued', false));
      expect(writer.offer('offered', false)).toBe('queued');
      gate.resolve();

      const failure = await stream;
      expect(failure).toMatchObject({ code: 'WSLANE_STREAM_FAILED' });
      await expect(queued).resolves.toMatchObject({ code: 'WSLANE_CHANNEL_CLOSED' });
      expect(hooks.onStreamBroken).toHaveBeenCalledTimes(1);
      expect(hooks.onStreamBroken).toHaveBeenCalledWith(failure);
      expect(writer.isClosed).toBe(true);
      await drain(socket);
      expect(socket.frames).toEqual([{ data: 'a', binary: false, fin: false }]);
      await expect(writer.send('later', false)).rejects.toMatchObject({
        code: 'WSLANE_CHANNEL_CLOSED',
      });
    });

    it('counts one message for a whole stream and every frame byte', async () => {
      const { writer } = createHarness();
      await writer.sendStream(['12', '345', '6789']);
      expect(writer.messagesOut).toBe(1);
      expect(writer.bytesOut).toBe(9);
    });
  });

  describe('end', () => {
    it('resolves at once on an idle lane and refuses everything after', async () => {
      const { writer } = createHarness();
      await expect(writer.end()).resolves.toBeUndefined();
      expect(writer.isClosed).toBe(true);
      await expect(writer.send('x', false)).rejects.toMatchObject({
        code: 'WSLANE_CHANNEL_CLOSED',
      });
      await expect(writer.sendStream(['x'])).rejects.toBeInstanceOf(ChannelClosedError);
      expect(writer.trySend('x', false)).toBe(false);
      expect(writer.offer('x', false)).toBe('closed');
    });

    it('hands everything queued to the socket before it resolves', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1 });
      const sends = [writer.send('a', false), writer.send('b', false)];
      writer.offer('c', false);
      const stream = writer.sendStream(['d1', 'd2']);
      sends.push(writer.send('e', false));
      const ended = track(writer.end());
      await expect(writer.send('late', false)).rejects.toMatchObject({
        code: 'WSLANE_CHANNEL_CLOSED',
      });

      socket.flush(1);
      await settle();
      expect(ended.current.state).toBe('pending');
      await drain(socket);
      expect(ended.current.state).toBe('fulfilled');
      await expect(Promise.all(sends)).resolves.toEqual([true, true, true]);
      await expect(stream).resolves.toBeUndefined();
      expect(socket.texts()).toEqual(['a', 'b', 'c', 'd1', 'd2', 'e']);
    });

    it('waits for a running stream to finish', async () => {
      const { socket, writer } = createHarness();
      const gate = createDeferred<void>();
      async function* source(): AsyncGenerator<string> {
        yield 'x';
        await gate.promise;
        yield 'y';
      }
      const stream = writer.sendStream(source());
      const ended = track(writer.end());
      await settle();
      expect(ended.current.state).toBe('pending');
      gate.resolve();
      await stream;
      await settle();
      expect(ended.current.state).toBe('fulfilled');
      expect(socket.texts()).toEqual(['x', 'y']);
    });

    it('resolves when the lane is aborted instead', async () => {
      const { writer } = createHarness({ highWaterMark: 1 });
      void writer.send('a', false);
      const queued = rejectionOf(writer.send('b', false));
      const ended = writer.end();
      writer.abort(new ChannelClosedError(1006));
      await expect(ended).resolves.toBeUndefined();
      await expect(queued).resolves.toMatchObject({ code: 'WSLANE_CHANNEL_CLOSED' });
    });
  });

  describe('abort', () => {
    it('rejects every queued send and stream with its error and writes nothing more', async () => {
      const { socket, writer } = createHarness({ highWaterMark: 1 });
      const written = writer.send('a', false);
      const queued = rejectionOf(writer.send('b', false));
      writer.offer('c', false);
      const stream = rejectionOf(writer.sendStream(['d']));
      const last = rejectionOf(writer.send('e', false));
      const error = new ChannelClosedError(1006, 'gone');

      writer.abort(error);
      await expect(written).resolves.toBe(true);
      await expect(Promise.all([queued, stream, last])).resolves.toEqual([error, error, error]);
      expect(writer.queuedBytes).toBe(socket.bufferedAmount);
      await drain(socket);
      expect(socket.texts()).toEqual(['a']);
      expect(writer.isClosed).toBe(true);
      await expect(writer.send('later', false)).rejects.toBe(error);
    });

    it('is idempotent and keeps the first error', async () => {
      const { writer } = createHarness();
      const first = new ChannelClosedError(1000);
      writer.abort(first);
      expect(() => writer.abort(new ChannelClosedError(1011))).not.toThrow();
      await expect(writer.send('x', false)).rejects.toBe(first);
      await expect(writer.sendStream(['x'])).rejects.toBe(first);
    });

    it('wakes a stream that waits for drain and rejects it', async () => {
      const { socket, writer, hooks } = createHarness({ highWaterMark: 2 });
      const stream = writer.sendStream(['aa', 'bb', 'cc']);
      await settle();
      expect(socket.texts()).toEqual(['aa']);
      const error = new ChannelClosedError(1001);
      writer.abort(error);
      await expect(stream).rejects.toBe(error);
      await drain(socket);
      expect(socket.texts()).toEqual(['aa']);
      expect(hooks.onStreamBroken).not.toHaveBeenCalled();
    });

    it('rejects a stream waiting on its source and lets the generator finish', async () => {
      const { socket, writer } = createHarness();
      const gate = createDeferred<void>();
      let finished = false;
      async function* source(): AsyncGenerator<string> {
        try {
          yield 'a';
          await gate.promise;
          yield 'b';
          yield 'c';
        } finally {
          finished = true;
        }
      }
      const stream = writer.sendStream(source());
      await settle();
      const error = new ChannelClosedError(1001);
      writer.abort(error);
      await expect(stream).rejects.toBe(error);
      gate.resolve();
      await drain(socket);
      expect(finished).toBe(true);
      expect(socket.frames).toEqual([]);
    });

    it('does not throw when called from inside the sync generator of the running stream', async () => {
      const { socket, writer } = createHarness();
      const error = new ChannelClosedError(1008);
      let thrown: unknown;
      function* source(): Generator<string> {
        yield 'a';
        try {
          writer.abort(error);
        } catch (caught) {
          thrown = caught;
        }
        yield 'b';
      }
      const stream = writer.sendStream(source());
      await expect(stream).rejects.toBe(error);
      expect(thrown).toBeUndefined();
      await drain(socket);
      expect(socket.frames).toEqual([]);
    });

    it('still resolves a stream whose final frame was handed over when abort follows in the same tick', async () => {
      const { socket, writer } = createHarness();
      socket.onSend = (frame) => {
        if (frame.fin) queueMicrotask(() => writer.abort(new ChannelClosedError(1000)));
      };
      const stream = track(writer.sendStream(['a', 'b']));
      await settle();
      expect(socket.frames.map((frame) => frame.fin)).toEqual([false, true]);
      expect(writer.messagesOut).toBe(1);
      expect(stream.current).toEqual({ state: 'fulfilled', value: undefined });
    });
  });

  describe('failure without crash', () => {
    it('never throws synchronously from send, trySend, offer or sendStream', () => {
      for (const overflow of ['close', 'drop-newest', 'drop-oldest', 'reject'] as const) {
        const { writer } = createHarness({ highWaterMark: 1, maxBufferedBytes: 4, overflow });
        const calls = (): void => {
          void writer.send('xxxx', false).catch(() => undefined);
          void writer.send('yyyy', false).catch(() => undefined);
          writer.trySend('zzzz', false);
          writer.offer('wwww', true);
          void writer.sendStream(['s']).catch(() => undefined);
        };
        expect(calls).not.toThrow();
        void writer.end();
        expect(calls).not.toThrow();
        writer.abort(new ChannelClosedError());
        expect(calls).not.toThrow();
      }
    });

    it('leaves no unhandled rejection for an ignored send refused after end or by policy', async () => {
      const leaks = await unhandledRejectionsOf(() => {
        const ended = createHarness();
        void ended.writer.end();
        void ended.writer.send('x', false);
        void ended.writer.sendStream(['x']);
        const rejecting = createHarness({ maxBufferedBytes: 1, overflow: 'reject' });
        void rejecting.writer.send('xx', false);
        const closing = createHarness({ maxBufferedBytes: 1, overflow: 'close' });
        void closing.writer.send('xx', false);
      });
      expect(leaks).toEqual([]);
    });

    it('leaves no unhandled rejection for an ignored queued send that abort rejects', async () => {
      const leaks = await unhandledRejectionsOf(() => {
        const { writer } = createHarness({ highWaterMark: 1 });
        void writer.send('a', false);
        void writer.send('b', false);
        writer.abort(new ChannelClosedError(1006));
      });
      expect(leaks).toEqual([]);
    });

    it('leaves no unhandled rejection for an ignored queued stream that abort rejects', async () => {
      const leaks = await unhandledRejectionsOf(() => {
        const { writer } = createHarness({ highWaterMark: 1 });
        void writer.send('a', false);
        void writer.sendStream(['b']);
        writer.abort(new ChannelClosedError(1006));
      });
      expect(leaks).toEqual([]);
    });

    it('leaves no unhandled rejection for an ignored stream whose source fails', async () => {
      const leaks = await unhandledRejectionsOf(async () => {
        const { socket, writer } = createHarness({ highWaterMark: 1 });
        function* failing(): Generator<string> {
          yield 'a';
          yield 'b';
          throw new Error('source failed');
        }
        function* failsAtOnce(): Generator<string> {
          yield* [];
          throw new Error('source failed');
        }
        void writer.sendStream(failsAtOnce());
        void writer.sendStream(failing());
        await drain(socket);
      });
      expect(leaks).toEqual([]);
    });
  });

  describe('cork', () => {
    it('corks once per tick for many writes and uncorks on the next tick', async () => {
      const log: string[] = [];
      const corkable: Corkable = {
        cork: vi.fn(() => log.push('cork')),
        uncork: vi.fn(() => log.push('uncork')),
      };
      const { socket, writer } = createHarness({}, corkable);
      socket.onSend = (frame) => log.push(`send ${frame.data.toString()}`);
      void writer.send('a', false);
      void writer.send('b', false);
      writer.offer('c', false);
      expect(writer.trySend('d', false)).toBe(true);
      expect(corkable.cork).toHaveBeenCalledTimes(1);
      expect(corkable.uncork).not.toHaveBeenCalled();

      await new Promise<void>((resolve) => process.nextTick(resolve));
      expect(log).toEqual(['cork', 'send a', 'send b', 'send c', 'send d', 'uncork']);

      void writer.send('e', false);
      expect(corkable.cork).toHaveBeenCalledTimes(2);
      await new Promise<void>((resolve) => process.nextTick(resolve));
      expect(corkable.uncork).toHaveBeenCalledTimes(2);
    });

    it('does not cork when nothing is written', () => {
      const corkable: Corkable = { cork: vi.fn(), uncork: vi.fn() };
      const { writer } = createHarness({ maxBufferedBytes: 1, overflow: 'drop-newest' }, corkable);
      void writer.send('too big', false);
      expect(corkable.cork).not.toHaveBeenCalled();
    });
  });
});
