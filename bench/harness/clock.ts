import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Microseconds on the monotonic clock (CLOCK_MONOTONIC): one clock for every process of the
 * machine, so a timestamp written by the server can be read by a client process.
 */
export function nowMicros(): number {
  const [seconds, nanos] = process.hrtime();
  return seconds * 1e6 + nanos / 1e3;
}

/** Waits `ms`; the only sleep of the harness, for warm-ups and settle periods. */
export function pause(ms: number): Promise<void> {
  return sleep(ms);
}

/**
 * Polls `check` every `everyMs` until it returns true or `timeoutMs` passes; resolves whether it
 * came true.
 */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 20,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(everyMs);
  }
}
