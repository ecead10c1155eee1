/**
 * Whole milliseconds on a clock that only moves forward: deadlines measured on it survive
 * wall-clock jumps (NTP steps, a changed system time). Read at call time, so fake timers can
 * replace it. Never 0 (a faked clock starts at 0): deadline fields use 0 for "not set".
 * Whole numbers because every channel stores several of these: V8 keeps a small integer inside
 * the object, where a fractional one would cost a separate 16-byte heap number per field.
 */
export function monotonicNow(): number {
  return Math.floor(performance.now()) + 1;
}

/** The wall-clock time (ms since the epoch) of a {@link monotonicNow} reading; 0 stays 0. */
export function toEpochMs(monotonic: number): number {
  return monotonic === 0 ? 0 : Math.round(performance.timeOrigin + monotonic - 1);
}
