import type { Server } from 'node:http';

/** One flood of slow-consumer: how big each message is, when to stop, how many were sent. */
export interface FloodJob {
  readonly messageBytes: number;
  stopped(): boolean;
  sent: number;
}

/**
 * A benchmark target running in its own process: an HTTP server on 127.0.0.1 and a free port,
 * serving `/echo` (echo every message back), `/room` (join the fan-out room) and `/flood`
 * (connections slow-consumer floods), with a heartbeat on.
 */
export interface TargetServer {
  readonly server: Server;
  /** Sends `payload` to every member of the room, the way this library broadcasts. */
  broadcast(payload: Buffer): void;
  roomSize(): number;
  openConnections(): number;
  floodConnections(): number;
  /** Starts sending fresh messages to every `/flood` connection as fast as the API lets it. */
  flood(job: FloodJob): void;
  /** The target's own bookkeeping (channels, clients, timers), for leak checks. */
  inspect(): Record<string, number>;
}

/** Each target module exports one of these as `startTarget`. */
export type StartTarget = () => Promise<TargetServer>;

/** A fresh message of `bytes` (its pages touched, as a real message's would be). */
export function freshMessage(bytes: number, seq: number): Buffer {
  return Buffer.alloc(bytes, seq & 0xff);
}

/** Listens on 127.0.0.1 and a free port. */
export function listenLocal(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Error listener for sockets whose errors the benchmark does not care about. */
export function ignoreError(): void {}
