import { connect as connectTcp, type Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { upgradeRequest } from './http-upgrade.js';

/** A raw TCP client that sent an upgrade request for `path` and then only waits. */
export function sendUpgradeRequest(
  port: number,
  path: string,
  headers?: Record<string, string>,
): Socket {
  const tcp = connectTcp(port, '127.0.0.1');
  tcp.on('error', () => {});
  tcp.write(upgradeRequest({ path, host: `127.0.0.1:${port}`, headers }).text);
  return tcp;
}

/**
 * The client leaves (a TCP reset, or a FIN with `close`); resolves once its socket closed and the
 * server noticed on its own (a reset, or the FIN read while the upgrade waits).
 */
export async function leaveAndAwaitServer(
  tcp: Socket,
  serverSide: Socket,
  leaving: 'reset' | 'close',
): Promise<void> {
  const left = new Promise((resolve) => tcp.once('close', resolve));
  if (leaving === 'reset') tcp.resetAndDestroy();
  else tcp.destroy();
  await withTimeout(left, 2000, 'client gone');
  await withTimeout(
    new Promise((resolve) => serverSide.once('close', resolve)),
    2000,
    'server sees the client leave',
  );
}
