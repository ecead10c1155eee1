import { nowMicros } from '../harness/clock.js';
import type { FanoutResult, FanoutRoundEvent } from '../harness/protocol.js';
import { emitEvent } from '../harness/rpc.js';
import { Histogram } from '../report/histogram.js';
import type { MessageHandler } from './connection-set.js';

/**
 * Fan-out receiver: every message carries its round (uint32 at 0) and the server's send time
 * (µs, float64 at 8). Each connection checks it saw every round in order; once all of this
 * process's connections got a round, the parent hears about it (`fanout.round`).
 */
export class FanoutJob {
  readonly #latency = new Histogram();
  #connections = 0;
  #recording = false;
  #round = -1;
  #roundCount = 0;
  #received = 0;
  #missed = 0;

  /** Connections this process expects each round to reach. */
  set connections(count: number) {
    this.#connections = count;
  }

  /** A handler for one connection, with its own idea of the next round. */
  createHandler(): MessageHandler {
    let expected = -1;
    return (data) => {
      const now = nowMicros();
      const seq = data.readUInt32LE(0);
      if (expected >= 0 && seq > expected) this.#missed += seq - expected;
      expected = seq + 1;
      this.#received++;
      if (this.#recording) this.#latency.record(now - data.readDoubleLE(8));
      if (seq !== this.#round) {
        this.#round = seq;
        this.#roundCount = 0;
      }
      if (++this.#roundCount === this.#connections) {
        const event: FanoutRoundEvent = { seq, sentAt: data.readDoubleLE(8), lastAt: now };
        emitEvent('fanout.round', event);
      }
    };
  }

  /** Turning recording on starts a fresh count: latencies, received and missed. */
  record(on: boolean): void {
    if (on) {
      this.#latency.reset();
      this.#received = 0;
      this.#missed = 0;
    }
    this.#recording = on;
  }

  results(): FanoutResult {
    return { received: this.#received, missed: this.#missed, latency: this.#latency.toData() };
  }

  reset(): void {
    this.#latency.reset();
    this.#recording = false;
    this.#round = -1;
    this.#roundCount = 0;
    this.#received = 0;
    this.#missed = 0;
    this.#connections = 0;
  }
}
