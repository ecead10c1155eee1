import type { ClientPool } from '../harness/client-pool.js';
import type { FanoutRoundEvent } from '../harness/protocol.js';
import type { ServerProcess } from '../harness/server-process.js';

interface OpenRound {
  readonly seq: number;
  remaining: number;
  lastAt: number;
  sentAt: number;
  done(): void;
}

/**
 * Drives fan-out rounds: one broadcast, then wait until every client process reports that all of
 * its connections got it; the next round starts only then. Resolves each round's time to reach
 * everyone (µs), or undefined when it timed out.
 */
export class FanoutRounds {
  readonly #server: ServerProcess;
  #reporting = 0;
  #seq = 0;
  #open: OpenRound | undefined;

  constructor(server: ServerProcess, clients: ClientPool) {
    this.#server = server;
    for (const client of clients.processes) {
      client.onEvent<FanoutRoundEvent>('fanout.round', (event) => this.#onRound(event));
    }
  }

  /** How many connections each client process holds: processes without any never report. */
  setConnections(perProcess: readonly number[]): void {
    this.#reporting = perProcess.filter((count) => count > 0).length;
  }

  async round(timeoutMs: number): Promise<number | undefined> {
    const seq = this.#seq++;
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<boolean>((resolve) => {
      this.#open = {
        seq,
        remaining: this.#reporting,
        lastAt: 0,
        sentAt: 0,
        done: () => resolve(true),
      };
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    await this.#server.request('broadcast', { seq });
    const completed = await finished;
    clearTimeout(timer);
    const round = this.#open;
    this.#open = undefined;
    return completed && round !== undefined ? round.lastAt - round.sentAt : undefined;
  }

  #onRound(event: FanoutRoundEvent): void {
    const round = this.#open;
    if (round === undefined || round.seq !== event.seq) return;
    round.sentAt = event.sentAt;
    round.lastAt = Math.max(round.lastAt, event.lastAt);
    if (--round.remaining === 0) round.done();
  }
}
