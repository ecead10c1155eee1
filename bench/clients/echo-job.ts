import { nowMicros, waitUntil } from '../harness/clock.js';
import type { EchoResult } from '../harness/protocol.js';
import { Histogram } from '../report/histogram.js';
import type { BenchConnection } from './connection.js';
import type { MessageHandler } from './connection-set.js';

const DRAIN_TIMEOUT_MS = 10_000;

/**
 * Echo load: every connection keeps `inFlight` messages outstanding, sending a new one for each
 * echo. Each message carries its send time (µs) in its first 8 bytes; round trips are counted
 * and timed between `mark` and `stop`.
 */
export class EchoJob {
  readonly #latency = new Histogram();
  #running = false;
  #recording = false;
  #messageBytes = 64;
  #outstanding = 0;
  #roundTrips = 0;
  #markedAt = 0;
  #markedCpu = 0;

  /** The handler every echo connection gets. */
  readonly onMessage: MessageHandler = (data, connection) => {
    this.#outstanding--;
    if (this.#recording) {
      this.#latency.record(nowMicros() - data.readDoubleLE(0));
      this.#roundTrips++;
    }
    if (this.#running) this.#sendOne(connection);
  };

  start(connections: readonly BenchConnection[], inFlight: number, messageBytes: number): void {
    this.#messageBytes = messageBytes;
    this.#running = true;
    for (const connection of connections) {
      for (let i = 0; i < inFlight; i++) this.#sendOne(connection);
    }
  }

  mark(): void {
    this.#latency.reset();
    this.#roundTrips = 0;
    this.#markedAt = nowMicros();
    this.#markedCpu = cpuMicros();
    this.#recording = true;
  }

  async stop(): Promise<EchoResult> {
    const elapsedMicros = nowMicros() - this.#markedAt;
    const clientCpuMicros = cpuMicros() - this.#markedCpu;
    this.#recording = false;
    this.#running = false;
    const result: EchoResult = {
      roundTrips: this.#roundTrips,
      elapsedMicros,
      clientCpuMicros,
      latency: this.#latency.toData(),
    };
    await waitUntil(() => this.#outstanding <= 0, DRAIN_TIMEOUT_MS);
    this.#outstanding = 0;
    return result;
  }

  #sendOne(connection: BenchConnection): void {
    const message = Buffer.allocUnsafe(this.#messageBytes);
    message.writeDoubleLE(nowMicros(), 0);
    this.#outstanding++;
    connection.send(message);
  }
}

function cpuMicros(): number {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
}
