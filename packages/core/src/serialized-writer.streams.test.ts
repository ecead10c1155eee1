import { Buffer } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { WslaneError } from './errors.js';
import { createDeferred } from './internal/settle.js';
import {
  createHarness,
  drain,
  rejectionOf,
  settle,
  track,
} from './test-helpers/serialized-writer-harness.js';

describe('SerializedWriter sendStream', () => {
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
