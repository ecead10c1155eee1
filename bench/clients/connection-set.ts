import type { ClientTarget, TargetPath } from '../harness/protocol.js';
import { type BenchConnection, openConnection } from './connection.js';
import { openRawConnection, type RawBenchConnection } from './raw-connection.js';

/** What a connection does with a message it receives. */
export type MessageHandler = (data: Buffer, connection: BenchConnection) => void;

/** Connections opened at once per client process, so the server's accept backlog never overflows. */
const OPEN_CONCURRENCY = 64;
const CLOSE_BATCH = 256;

/** The connections a client process holds open, opened a batch at a time and closed together. */
export class ConnectionSet {
  readonly connections: BenchConnection[] = [];

  /**
   * Opens `count` connections, each with its own handler from `createHandler`. Resolves how many
   * opened (a failure is counted, not thrown).
   */
  async open(
    target: ClientTarget,
    path: TargetPath,
    count: number,
    createHandler: () => MessageHandler,
    raw = false,
  ): Promise<number> {
    let started = 0;
    let opened = 0;
    const worker = async (): Promise<void> => {
      while (started < count) {
        started++;
        try {
          this.connections.push(
            raw
              ? await openRawConnection(target, path)
              : await openOne(target, path, createHandler()),
          );
          opened++;
        } catch {
          // Reported as count - opened.
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, count) }, worker));
    return opened;
  }

  /** Every raw connection sends `bytes` to its echo route and waits for the echo; resolves the count. */
  async exchangeOnce(bytes: number): Promise<number> {
    const message = Buffer.alloc(bytes, 1);
    const raw = this.connections.filter((c): c is RawBenchConnection => 'exchange' in c);
    await Promise.all(raw.map((connection) => connection.exchange(message)));
    return raw.length;
  }

  async closeAll(): Promise<void> {
    const connections = this.connections.splice(0);
    for (let start = 0; start < connections.length; start += CLOSE_BATCH) {
      const batch = connections.slice(start, start + CLOSE_BATCH);
      await Promise.all(batch.map((connection) => connection.close()));
    }
  }
}

async function openOne(
  target: ClientTarget,
  path: TargetPath,
  handler: MessageHandler,
): Promise<BenchConnection> {
  const slot: { connection?: BenchConnection } = {};
  const connection = await openConnection(target, path, (data) => {
    if (slot.connection !== undefined) handler(data, slot.connection);
  });
  slot.connection = connection;
  return connection;
}
