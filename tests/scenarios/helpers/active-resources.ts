import { expect } from 'vitest';

/**
 * What keeps the event loop alive right now, counted by type (`Timeout`, `TCPSocketWrap`, …).
 * Unref'd timers do not count: they never keep a process alive.
 */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
  return counts;
}

/** Counts `setTimeout`/`setInterval` calls made by wslane's core or by `ws`; see {@link libraryTimerCalls}. */
export interface TimerCalls {
  readonly count: number;
  reset(): void;
  restore(): void;
}

// Calls from the library, not from the test helpers that live next to it.
const LIBRARY_FRAME = /packages\/core\/src\/(?!testing\/)|node_modules\/ws\//;

/**
 * Wraps the global `setTimeout` and `setInterval` to count the timers the library creates (by
 * the caller's stack), unref'd ones included: the only way to see a per-message or per-channel
 * timer that `process.getActiveResourcesInfo()` would not show. Restore it in a `finally`.
 */
export function libraryTimerCalls(): TimerCalls {
  const originalTimeout = globalThis.setTimeout;
  const originalInterval = globalThis.setInterval;
  let count = 0;
  const fromLibrary = (): boolean => LIBRARY_FRAME.test(new Error().stack ?? '');
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    if (fromLibrary()) count++;
    return originalTimeout(...args);
  }) as typeof setTimeout;
  globalThis.setInterval = ((...args: Parameters<typeof setInterval>) => {
    if (fromLibrary()) count++;
    return originalInterval(...args);
  }) as typeof setInterval;
  return {
    get count() {
      return count;
    },
    reset: () => {
      count = 0;
    },
    restore: () => {
      globalThis.setTimeout = originalTimeout;
      globalThis.setInterval = originalInterval;
    },
  };
}

/**
 * Waits until nothing keeps the event loop alive beyond `baseline` (counted per type): whatever a
 * scenario opened is closed again. Fails after 2 s.
 */
export async function expectNoResourcesBeyond(baseline: Record<string, number>): Promise<void> {
  const excess = (): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const [type, count] of Object.entries(activeResources())) {
      if (count > (baseline[type] ?? 0)) out[type] = count - (baseline[type] ?? 0);
    }
    return out;
  };
  await expect.poll(excess, { timeout: 2000 }).toEqual({});
}
