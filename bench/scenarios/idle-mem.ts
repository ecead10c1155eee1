import { pause, waitUntil } from '../harness/clock.js';
import type { ServerUsage } from '../harness/protocol.js';
import {
  FIXED_YOUNG_GENERATION_FLAGS,
  YOUNG_GENERATION_CHURN_MIB,
} from '../harness/young-generation.js';
import { ALL_BUT_PREFRAMED, type Scenario } from './scenario.js';

const KIB = 1024;
const WARMUP_CONNECTIONS = 50;
const EXCHANGE_BYTES = 64;

/** Idle memory: thousands of open connections doing nothing, heartbeat on. */
export const idleMemScenario: Scenario = {
  name: 'idle-mem',
  title: 'Idle memory',
  description:
    'Idle connections with the heartbeat on; server RSS and V8 heap per connection after a full GC, against the same server before they connected: as opened, then once each has sent and received one message, each time after 2.5 s without traffic.',
  targets: ALL_BUT_PREFRAMED,
  clientProcesses: 2,
  // Grown by V8 under the burst of thousands of handshakes otherwise: it would pose as memory per
  // connection.
  serverNodeFlags: FIXED_YOUNG_GENERATION_FLAGS,
  metrics: [
    {
      key: 'rssPerConn',
      label: 'RSS KiB/conn',
      digits: 2,
      better: 'lower',
      ratio: true,
      primary: true,
    },
    { key: 'heapPerConn', label: 'heap KiB/conn', digits: 2, better: 'lower', ratio: true },
    { key: 'externalPerConn', label: 'external KiB/conn', digits: 2, better: 'lower' },
  ],
  async run({ server, clients, clientTarget, profile }) {
    const { connections, settleMs } = profile.idleMem;
    // One round of connections first, so code and lazily built state are not counted per connection.
    const warmup = clients.split(WARMUP_CONNECTIONS);
    await clients.all('open', (i) => ({
      target: clientTarget,
      path: '/echo',
      count: warmup[i] ?? 0,
    }));
    await clients.all('closeAll', null);
    await waitUntil(async () => (await server.request('openConnections', null)) === 0, 10_000);
    const before = await server.request('churnHeap', { megabytes: YOUNG_GENERATION_CHURN_MIB });
    const counts = clients.split(connections);
    const opened = await clients.all(
      'open',
      (index) => ({ target: clientTarget, path: '/echo', count: counts[index] ?? 0, raw: true }),
      120_000,
    );
    const total = opened.reduce((sum, count) => sum + count, 0);
    if (total !== connections) throw new Error(`only ${total} of ${connections} connected`);
    const all = await waitUntil(
      async () => (await server.request('openConnections', null)) === connections,
      15_000,
    );
    if (!all) throw new Error(`the server never counted ${connections} connections`);
    await pause(settleMs);
    const count = connections.toLocaleString('en-US');
    const perConnection = (after: ServerUsage) => ({
      rssPerConn: (after.rss - before.rss) / connections / KIB,
      heapPerConn: (after.heapUsed - before.heapUsed) / connections / KIB,
      externalPerConn: (after.external - before.external) / connections / KIB,
    });
    const untouched = {
      variant: `${count} connections`,
      metrics: perConnection(await server.request('gc', null)),
    };
    // The same connections once each has sent and received a message: whatever a library creates
    // on first use (wslane's lane and inbound queue) is then counted too.
    if (clientTarget.protocol === 'socket.io') return [untouched];
    const traded = await clients.all('exchangeOnce', { bytes: EXCHANGE_BYTES }, 60_000);
    if (traded.reduce((sum, n) => sum + n, 0) !== connections) {
      throw new Error('not every connection traded its message');
    }
    await pause(settleMs);
    const used = {
      variant: `${count} connections, one message each way`,
      metrics: perConnection(await server.request('gc', null)),
    };
    return [untouched, used];
  },
};
