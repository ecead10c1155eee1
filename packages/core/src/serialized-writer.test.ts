import { Buffer } from 'node:buffer';
import { describe, expect, it, vi } from 'vitest';
import type { Corkable } from './serialized-writer.js';
import { createHarness, drain, settle, track } from './test-helpers/serialized-writer-harness.js';

describe('SerializedWriter send', () => {
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

describe('SerializedWriter cork', () => {
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
