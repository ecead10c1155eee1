import { type UpgradeWriteOptions, writeUpgrade } from './http-upgrade.js';
import { DEFAULT_WAIT_MS, SILENT, WireClient } from './wire-client.js';

/** What a refused upgrade got back: the HTTP answer and every byte the server wrote. */
export interface RawAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** Every byte the server wrote, headers included. */
  readonly raw: Buffer;
}

/**
 * Sends an upgrade request (plus `extra` bytes in the same write) and reads until the server
 * closes the connection: for refusals, which must be answered and ended, never upgraded.
 */
export async function rawUpgrade(
  url: string,
  options: UpgradeWriteOptions = {},
  ms = DEFAULT_WAIT_MS,
): Promise<RawAnswer> {
  const target = new URL(url);
  const client = await WireClient.tcp(Number(target.port), { ...SILENT, host: target.hostname });
  const received: Buffer[] = [];
  client.socket.on('data', (chunk: Buffer) => received.push(chunk));
  try {
    await writeUpgrade(client, target, options);
    await client.waitEnded(ms);
  } finally {
    client.destroy();
  }
  const { status, headers } = await client.response();
  return { status, headers, raw: Buffer.concat(received) };
}
