import { setImmediate as nextTurn } from 'node:timers/promises';
import { type FloodJob, freshMessage } from './target-server.js';

const MESSAGES_PER_TURN = 4;

/**
 * Floods one connection of a library whose `send` takes everything (no backpressure in its API):
 * a few fresh messages per event-loop turn, so the loop still serves other clients.
 */
export async function floodLoop(send: (data: Buffer) => void, job: FloodJob): Promise<void> {
  while (!job.stopped()) {
    for (let i = 0; i < MESSAGES_PER_TURN; i++) {
      send(freshMessage(job.messageBytes, job.sent));
      job.sent++;
    }
    await nextTurn();
  }
}
