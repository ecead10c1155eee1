import { nowMicros } from '../harness/clock.js';
import type { PingResult } from '../harness/protocol.js';
import { Histogram } from '../report/histogram.js';
import type { BenchConnection } from './connection.js';
import type { MessageHandler } from './connection-set.js';

const PING_BYTES = 64;

/** A healthy client: one 64-byte message at a time, the next as soon as the echo is back. */
export class PingJob {
  #latency = new Histogram();
  #deadline = 0;
  #remaining = 0;
  #done: ((result: PingResult) => void) | undefined;

  readonly onMessage: MessageHandler = (data, connection) => {
    this.#latency.record(nowMicros() - data.readDoubleLE(0));
    if (--this.#remaining > 0 && nowMicros() < this.#deadline) this.#send(connection);
    else this.#finish();
  };

  run(connection: BenchConnection, durationMs: number, maxRoundTrips: number): Promise<PingResult> {
    this.#latency = new Histogram();
    this.#deadline = nowMicros() + durationMs * 1000;
    this.#remaining = maxRoundTrips;
    // A reply that never comes (the server is stuck) still ends the run, a little late.
    const timer = setTimeout(() => this.#finish(), durationMs + 5_000);
    return new Promise<PingResult>((resolve) => {
      this.#done = (result) => {
        clearTimeout(timer);
        resolve(result);
      };
      this.#send(connection);
    });
  }

  #send(connection: BenchConnection): void {
    const message = Buffer.alloc(PING_BYTES);
    message.writeDoubleLE(nowMicros(), 0);
    connection.send(message);
  }

  #finish(): void {
    const done = this.#done;
    this.#done = undefined;
    done?.({ roundTrips: this.#latency.total, latency: this.#latency.toData() });
  }
}
