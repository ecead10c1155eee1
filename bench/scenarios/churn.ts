import { waitUntil } from '../harness/clock.js';
import type { ServerProcess } from '../harness/server-process.js';
import { ALL_BUT_PREFRAMED, type Scenario } from './scenario.js';

const MIB = 1024 * 1024;
/** What must be back to its starting count once every connection is gone. */
const LEAK_KEYS = [
  'channels',
  'pending',
  'timers',
  'rooms',
  'clients',
  'room',
  'upgradeListeners',
  'connectionListeners',
  'activeTCPSocketWrap',
];

/** Churn: connections opened and closed, a few hundred at a time. */
export const churnScenario: Scenario = {
  name: 'churn',
  title: 'Churn',
  description:
    'Open and close connections, 200 at a time; connections per second, server CPU per connection, heap after GC against the start, what is left over.',
  targets: ALL_BUT_PREFRAMED,
  clientProcesses: 2,
  metrics: [
    {
      key: 'cpuPerUnit',
      label: 'server CPU µs/conn',
      digits: 0,
      better: 'lower',
      ratio: true,
      primary: true,
    },
    { key: 'connPerSec', label: 'conn/s', digits: 0, better: 'higher', ratio: true },
    { key: 'heapGrowthPct', label: 'heap after GC vs start %', digits: 1, better: 'lower' },
    { key: 'heapAfterMiB', label: 'heap after MiB', digits: 1, better: 'lower' },
    { key: 'leftOver', label: 'left over', digits: 0, better: 'lower' },
    { key: 'failed', label: 'failed', digits: 0, better: 'lower' },
  ],
  async run({ server, clients, clientTarget, profile }) {
    const settings = profile.churn;
    const concurrency = clients.split(settings.concurrency);
    const churn = async (total: number) => {
      const totals = clients.split(total);
      const results = await clients.all(
        'churn.run',
        (index) => ({
          target: clientTarget,
          total: totals[index] ?? 0,
          concurrency: concurrency[index] ?? 1,
          timeoutMs: settings.timeoutMs,
        }),
        settings.timeoutMs + 30_000,
      );
      await waitUntilEmpty(server);
      return results;
    };
    await churn(settings.warmup);
    const before = await server.request('gc', null);
    const inspectBefore = await server.request('inspect', null);
    const results = await churn(settings.connections);
    const usage = await server.request('usage', null);
    const after = await server.request('gc', null);
    const inspectAfter = await server.request('inspect', null);
    const opened = results.reduce((sum, result) => sum + result.opened, 0);
    const failed = results.reduce((sum, result) => sum + result.failed, 0);
    const elapsedMicros = Math.max(...results.map((result) => result.elapsedMicros));
    let leftOver = 0;
    for (const key of LEAK_KEYS) {
      leftOver += Math.max(0, (inspectAfter[key] ?? 0) - (inspectBefore[key] ?? 0));
    }
    return [
      {
        variant: `${settings.connections.toLocaleString('en-US')} connections`,
        metrics: {
          cpuPerUnit: (usage.cpuMicros - before.cpuMicros) / opened,
          connPerSec: opened / (elapsedMicros / 1e6),
          heapGrowthPct: ((after.heapUsed - before.heapUsed) / before.heapUsed) * 100,
          heapAfterMiB: after.heapUsed / MIB,
          leftOver,
          failed,
        },
      },
    ];
  },
};

async function waitUntilEmpty(server: ServerProcess): Promise<void> {
  const empty = await waitUntil(
    async () => (await server.request('openConnections', null)) === 0,
    30_000,
    50,
  );
  if (!empty) throw new Error('connections still open on the server after churn');
}
