import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { loadTarget } from '../targets/load-target.js';
import type { TargetServer } from '../targets/target-server.js';
import { ClientPool } from './client-pool.js';
import { type TargetName, targetInfo } from './target-list.js';

/** Connections opened and closed before measuring: code and lazily built state are not counted. */
const WARMUP = 50;

/** A target started in this process, driven by one of the bench's client processes. */
export interface InProcessTarget {
  readonly target: TargetServer;
  readonly clients: ClientPool;
  /** Opens `count` idle connections to /echo (the bench's raw client, as idle-mem uses it). */
  open(count: number): Promise<number[]>;
}

/**
 * Starts `name` in this process (for the per-connection diagnostics, which look at the server's
 * own heap) and runs a warm-up round of connections against it.
 */
export async function startInProcessTarget(name: TargetName): Promise<InProcessTarget> {
  const target = await (await loadTarget(name))();
  const { port } = target.server.address() as AddressInfo;
  const clients = await ClientPool.start(1);
  const open = (count: number) =>
    clients.all('open', {
      target: { protocol: targetInfo(name).protocol, port },
      path: '/echo',
      count,
      raw: true,
    });
  await open(WARMUP);
  await clients.all('closeAll', null);
  while (target.openConnections() > 0) await nextTurn();
  return { target, clients, open };
}
