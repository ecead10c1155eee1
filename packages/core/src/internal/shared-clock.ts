import { monotonicNow } from './monotonic.js';

/** Something with deadlines the shared clock checks on every tick. */
export interface TimedSubject {
  checkDeadlines(now: number): void;
}

const MIN_TICK_MS = 5;
const MAX_TICK_MS = 1000;
/** Deadlines fire at most this fraction of their duration late. */
const TICKS_PER_SHORTEST_TIMEOUT = 10;

/**
 * One interval timer for every deadline of a hub: pending upgrades and the channel manager (which
 * sweeps its channels) register, the clock sweeps them. 10,000 channels cost one timer, and none
 * at all while nothing is registered.
 */
export class SharedClock {
  readonly #subjects = new Set<TimedSubject>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #tickMs = MAX_TICK_MS;

  /** Timers this clock holds right now (0 or 1). */
  get timerCount(): number {
    return this.#timer === undefined ? 0 : 1;
  }

  get size(): number {
    return this.#subjects.size;
  }

  /** Makes ticks frequent enough for a deadline of `durationMs`. */
  fitTo(durationMs: number): void {
    const tick = Math.min(
      MAX_TICK_MS,
      Math.max(MIN_TICK_MS, Math.floor(durationMs / TICKS_PER_SHORTEST_TIMEOUT)),
    );
    if (tick >= this.#tickMs) return;
    this.#tickMs = tick;
    if (this.#timer !== undefined) this.#restart();
  }

  add(subject: TimedSubject): void {
    this.#subjects.add(subject);
    if (this.#timer === undefined) this.#restart();
  }

  delete(subject: TimedSubject): void {
    this.#subjects.delete(subject);
    if (this.#subjects.size === 0) this.stop();
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #restart(): void {
    this.stop();
    this.#timer = setInterval(this.#sweep, this.#tickMs);
    this.#timer.unref();
  }

  readonly #sweep = (): void => {
    const now = monotonicNow();
    for (const subject of this.#subjects) subject.checkDeadlines(now);
  };
}
