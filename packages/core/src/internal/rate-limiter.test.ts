import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InboundRateLimiter } from './rate-limiter.js';

const T0 = 1_700_000_000_000;

function takeTimes(limiter: InboundRateLimiter, times: number, now: number): number {
  let accepted = 0;
  for (let i = 0; i < times; i++) if (limiter.take(now)) accepted++;
  return accepted;
}

describe('InboundRateLimiter', () => {
  it('allows a burst of `messages` at once when no burst is set, then refuses', () => {
    const limiter = new InboundRateLimiter({ messages: 10, interval: 1000 }, T0);
    expect(takeTimes(limiter, 10, T0)).toBe(10);
    expect(limiter.take(T0)).toBe(false);
  });

  it('allows a burst of `burst` at once when it is set', () => {
    const small = new InboundRateLimiter({ messages: 10, interval: 1000, burst: 3 }, T0);
    expect(takeTimes(small, 20, T0)).toBe(3);
    const large = new InboundRateLimiter({ messages: 10, interval: 1000, burst: 25 }, T0);
    expect(takeTimes(large, 30, T0)).toBe(25);
  });

  it('refills one token every interval / messages', () => {
    const limiter = new InboundRateLimiter({ messages: 10, interval: 1000 }, T0);
    takeTimes(limiter, 10, T0);
    expect(limiter.take(T0 + 99)).toBe(false);
    expect(limiter.take(T0 + 100)).toBe(true);
    expect(limiter.take(T0 + 100)).toBe(false);
    expect(takeTimes(limiter, 5, T0 + 600)).toBe(5);
    expect(limiter.take(T0 + 600)).toBe(false);
  });

  it('refills no further than the bucket size after a long quiet time', () => {
    const limiter = new InboundRateLimiter({ messages: 10, interval: 1000, burst: 4 }, T0);
    takeTimes(limiter, 4, T0);
    expect(takeTimes(limiter, 100, T0 + 3_600_000)).toBe(4);
  });

  it('sustains `messages` per interval under constant pressure', () => {
    const limiter = new InboundRateLimiter({ messages: 10, interval: 1000 }, T0);
    let accepted = 0;
    for (let t = 0; t <= 10_000; t++) if (limiter.take(T0 + t)) accepted++;
    // 10 from the full bucket plus 100 refilled over 10 s; float rounding may cost the last one.
    expect(accepted).toBeGreaterThanOrEqual(109);
    expect(accepted).toBeLessThanOrEqual(110);
  });

  it('neither refills nor drains when the clock goes backwards', () => {
    const limiter = new InboundRateLimiter({ messages: 2, interval: 1000 }, T0);
    expect(limiter.take(T0)).toBe(true);
    expect(limiter.take(T0 - 5000)).toBe(true);
    expect(limiter.take(T0 - 5000)).toBe(false);
    expect(limiter.take(T0)).toBe(false);
  });

  it('never lets through more than the bucket plus `messages` per interval on average', () => {
    const settings = fc.record({
      messages: fc.integer({ min: 1, max: 50 }),
      interval: fc.integer({ min: 1, max: 5000 }),
      burst: fc.option(fc.integer({ min: 1, max: 100 }), { nil: undefined }),
    });
    const arrivals = fc.array(
      fc.record({ gap: fc.nat({ max: 500 }), count: fc.integer({ min: 1, max: 20 }) }),
      { maxLength: 200 },
    );
    fc.assert(
      fc.property(settings, arrivals, (limit, batches) => {
        const limiter = new InboundRateLimiter(limit, T0);
        const capacity = limit.burst ?? limit.messages;
        let now = T0;
        let accepted = 0;
        for (const { gap, count } of batches) {
          now += gap;
          accepted += takeTimes(limiter, count, now);
          const allowed = capacity + ((now - T0) * limit.messages) / limit.interval;
          expect(accepted).toBeLessThanOrEqual(Math.floor(allowed + 1e-6));
        }
      }),
    );
  });
});
