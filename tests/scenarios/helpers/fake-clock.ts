import { vi } from 'vitest';

/**
 * The timers a deadline test fakes: never `setImmediate`/`nextTick`, so live sockets keep working.
 * `performance` is faked too, so the tests hold whether deadlines read `Date.now()` or the
 * monotonic clock; `vi.setSystemTime` then moves the wall clock only (TM-06).
 */
export const FAKED_TIMERS = [
  'setTimeout',
  'clearTimeout',
  'setInterval',
  'clearInterval',
  'Date',
  'performance',
] as const;

/** Fakes the clock (see {@link FAKED_TIMERS}); undo with `vi.useRealTimers()` in `afterEach`. */
export function useFakeClock(): void {
  vi.useFakeTimers({ toFake: [...FAKED_TIMERS] });
}

/**
 * Waits without moving fake time until `condition` holds, letting real I/O run between checks
 * (one `setImmediate` turn each). Fails after `ms` of real time.
 */
export async function untilIo(condition: () => boolean, label: string, ms = 2000): Promise<void> {
  const startedAt = process.hrtime.bigint();
  while (!condition()) {
    if (Number(process.hrtime.bigint() - startedAt) / 1e6 > ms) {
      throw new Error(`timed out after ${ms} ms of real time: ${label}`);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
