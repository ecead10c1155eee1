/**
 * Milliseconds on a clock that only moves forward: deadlines measured on it survive wall-clock
 * jumps (NTP steps, a changed system time). Read at call time, so fake timers can replace it.
 * Never 0 (a faked clock starts at 0): deadline fields use 0 for "not set".
 */
export function monotonicNow(): number {
  return performance.now() + 1;
}
