import { describe, expect, it } from 'vitest';
import type { OverflowPolicy } from './config.js';
import { ChannelClosedError } from './errors.js';
import { createDeferred } from './internal/settle.js';
import {
  createHarness,
  drain,
  type Harness,
  rejectionOf,
  settle,
} from './test-helpers/serialized-writer-harness.js';

describe('SerializedWriter overflow policies', () => {
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
