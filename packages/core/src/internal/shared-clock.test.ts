import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { monotonicNow } from './monotonic.js';
import { SharedClock, type TimedSubject } from './shared-clock.js';

const T0 = Date.UTC(2026, 10, 21, 12, 0, 0);

function subject(): TimedSubject & { calls: number[] } {
  const calls: number[] = [];
  return {
    calls,
    checkDeadlines(now: number): void {
      calls.push(now);
    },
  };
}

describe('SharedClock', () => {
  let clock: SharedClock;
  /** The monotonic clock's reading when the test started (deadlines use it, not Date). */
  let t0: number;

  beforeEach(() => {
    vi.useFakeTimers({
      toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'],
      now: T0,
    });
    t0 = monotonicNow();
    clock = new SharedClock();
  });

  afterEach(() => {
    clock.stop();
    vi.useRealTimers();
  });

  it('holds no timer while nothing is registered', () => {
    expect(clock.timerCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('holds one timer for many subjects', () => {
    for (let i = 0; i < 1000; i++) clock.add(subject());
    expect(clock.size).toBe(1000);
    expect(clock.timerCount).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('drops its timer when the last subject is deleted', () => {
    const a = subject();
    const b = subject();
    clock.add(a);
    clock.add(b);
    clock.delete(a);
    expect(vi.getTimerCount()).toBe(1);
    clock.delete(b);
    expect(clock.size).toBe(0);
    expect(clock.timerCount).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('checks every subject on each tick with the current time (1 s by default)', async () => {
    const a = subject();
    const b = subject();
    clock.add(a);
    clock.add(b);
    await vi.advanceTimersByTimeAsync(999);
    expect(a.calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.calls).toEqual([t0 + 1000]);
    expect(b.calls).toEqual([t0 + 1000]);
    await vi.advanceTimersByTimeAsync(2000);
    expect(a.calls).toEqual([t0 + 1000, t0 + 2000, t0 + 3000]);
    expect(b.calls).toHaveLength(3);
  });

  it('stops checking a subject once it is deleted, even from inside a tick', async () => {
    const other = subject();
    const leaving: TimedSubject & { calls: number } = {
      calls: 0,
      checkDeadlines(): void {
        this.calls++;
        clock.delete(this);
      },
    };
    clock.add(leaving);
    clock.add(other);
    await vi.advanceTimersByTimeAsync(3000);
    expect(leaving.calls).toBe(1);
    expect(other.calls).toHaveLength(3);
  });

  it('shortens the tick to a tenth of the duration given to fitTo', async () => {
    clock.fitTo(200);
    const a = subject();
    clock.add(a);
    await vi.advanceTimersByTimeAsync(19);
    expect(a.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.calls).toEqual([t0 + 20]);
    await vi.advanceTimersByTimeAsync(100);
    expect(a.calls).toHaveLength(6);
  });

  it('restarts a running timer with the shorter tick, still as one timer', async () => {
    const a = subject();
    clock.add(a);
    clock.fitTo(500);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(50);
    expect(a.calls).toEqual([t0 + 50]);
  });

  it('never lengthens the tick', async () => {
    clock.fitTo(500);
    clock.fitTo(60_000);
    clock.fitTo(Number.POSITIVE_INFINITY);
    const a = subject();
    clock.add(a);
    await vi.advanceTimersByTimeAsync(50);
    expect(a.calls).toHaveLength(1);
  });

  it('ticks no faster than every 5 ms and no slower than every second', async () => {
    const a = subject();
    clock.add(a);
    clock.fitTo(1);
    await vi.advanceTimersByTimeAsync(4);
    expect(a.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(a.calls).toHaveLength(1);

    const slow = new SharedClock();
    const b = subject();
    slow.fitTo(3_600_000);
    slow.add(b);
    await vi.advanceTimersByTimeAsync(999);
    expect(b.calls).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(b.calls).toHaveLength(1);
    slow.stop();
  });

  it('unrefs its timer so it never keeps the process alive', () => {
    const spy = vi.spyOn(globalThis, 'setInterval');
    clock.add(subject());
    const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
  });

  it('stop() clears the timer and a later add starts a new one', async () => {
    const a = subject();
    clock.add(a);
    clock.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(a.calls).toHaveLength(0);
    clock.add(subject());
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(a.calls).toHaveLength(1);
  });
});
