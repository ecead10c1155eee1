import { describe, expect, it } from 'vitest';
import { ChannelClosedError } from './errors.js';
import { createDeferred } from './internal/settle.js';
import {
  createHarness,
  drain,
  rejectionOf,
  settle,
  track,
} from './test-helpers/serialized-writer-harness.js';

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

describe('SerializedWriter end', () => {
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

describe('SerializedWriter abort', () => {
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

describe('SerializedWriter failure without crash', () => {
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
