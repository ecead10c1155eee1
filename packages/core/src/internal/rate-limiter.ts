import { monotonicNow } from './monotonic.js';

/** Settings of a token bucket (the `limits.rateLimit` section when enabled). */
export interface RateLimitSettings {
  readonly messages: number;
  readonly interval: number;
  readonly burst?: number | undefined;
}

/** A token bucket per channel: `messages` per `interval`, refilled continuously, `burst` deep. */
export class InboundRateLimiter {
  readonly #capacity: number;
  readonly #perMs: number;
  #tokens: number;
  #updatedAt: number;

  constructor(settings: RateLimitSettings, now: number = monotonicNow()) {
    this.#capacity = settings.burst ?? settings.messages;
    this.#perMs = settings.messages / Math.max(1, settings.interval);
    this.#tokens = this.#capacity;
    this.#updatedAt = now;
  }

  /** Takes one token; false when the bucket is empty. */
  take(now: number): boolean {
    const elapsed = now - this.#updatedAt;
    if (elapsed > 0) {
      this.#tokens = Math.min(this.#capacity, this.#tokens + elapsed * this.#perMs);
      this.#updatedAt = now;
    }
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
