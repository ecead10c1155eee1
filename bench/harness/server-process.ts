import { fileURLToPath } from 'node:url';
import type { ServerCommands, ServerReady } from './protocol.js';
import { RpcChild } from './rpc.js';
import type { TargetName } from './target-list.js';

const SERVER_ENTRY = fileURLToPath(new URL('../targets/server-host.ts', import.meta.url));

/** A target's server process, answering {@link ServerCommands}. */
export type ServerProcess = RpcChild<ServerCommands, ServerReady>;

/**
 * Starts one target in its own process, with `--expose-gc` for the memory scenarios and the
 * flags in `BENCH_SERVER_NODE_FLAGS` (e.g. `--cpu-prof --cpu-prof-dir=bench/results/profiles`).
 */
export function startServer(
  target: TargetName,
  nodeFlags: readonly string[] = [],
): Promise<ServerProcess> {
  const extra = process.env.BENCH_SERVER_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
  return RpcChild.start<ServerCommands, ServerReady>(SERVER_ENTRY, [target], {
    nodeFlags: ['--expose-gc', ...nodeFlags, ...extra],
  });
}
