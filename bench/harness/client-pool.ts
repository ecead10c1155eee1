import { fileURLToPath } from 'node:url';
import type { ClientCommands } from './protocol.js';
import { RpcChild } from './rpc.js';

const CLIENT_ENTRY = fileURLToPath(new URL('../clients/client-host.ts', import.meta.url));

type ClientProcess = RpcChild<ClientCommands>;

/** The client processes of a scenario: the load comes from them, never from the runner. */
export class ClientPool {
  readonly processes: readonly ClientProcess[];

  private constructor(processes: readonly ClientProcess[]) {
    this.processes = processes;
  }

  /** Starts `count` client processes, with the flags in `BENCH_CLIENT_NODE_FLAGS` if set. */
  static async start(count: number): Promise<ClientPool> {
    const nodeFlags = process.env.BENCH_CLIENT_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    const processes = await Promise.all(
      Array.from({ length: count }, () =>
        RpcChild.start<ClientCommands, unknown>(CLIENT_ENTRY, [], { nodeFlags }),
      ),
    );
    return new ClientPool(processes);
  }

  get first(): ClientProcess {
    return this.processes[0] as ClientProcess;
  }

  /** `total` split as evenly as possible over the processes. */
  split(total: number): number[] {
    const count = this.processes.length;
    return this.processes.map(
      (_, index) => Math.floor(total / count) + (index < total % count ? 1 : 0),
    );
  }

  /** The same command on every process (arguments per process when `args` is a function). */
  all<K extends keyof ClientCommands & string>(
    cmd: K,
    args: ClientCommands[K]['args'] | ((index: number) => ClientCommands[K]['args']),
    timeoutMs?: number,
  ): Promise<ClientCommands[K]['result'][]> {
    return Promise.all(
      this.processes.map((client, index) =>
        client.request(
          cmd,
          typeof args === 'function'
            ? (args as (index: number) => ClientCommands[K]['args'])(index)
            : args,
          timeoutMs,
        ),
      ),
    );
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((client) => client.stop()));
  }
}
