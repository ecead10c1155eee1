import { nowMicros } from '../harness/clock.js';
import type { ChurnResult, ClientTarget } from '../harness/protocol.js';
import { openRawConnection } from './raw-connection.js';

/**
 * Connection churn: `concurrency` loops each open a connection to /echo, close it, wait until it
 * is gone and start over, until `total` were started or `timeoutMs` passed. Raw connections keep
 * the client's own cost per connection low.
 */
export async function runChurn(
  target: ClientTarget,
  total: number,
  concurrency: number,
  timeoutMs: number,
): Promise<ChurnResult> {
  const startedAt = nowMicros();
  const deadline = Date.now() + timeoutMs;
  let started = 0;
  let opened = 0;
  let failed = 0;
  const loop = async (): Promise<void> => {
    while (started < total && Date.now() < deadline) {
      started++;
      try {
        const connection = await openRawConnection(target, '/echo');
        opened++;
        await connection.close();
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, loop));
  return { opened, failed, elapsedMicros: nowMicros() - startedAt };
}
