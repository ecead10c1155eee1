import { setImmediate as nextTurn } from 'node:timers/promises';
import { GCProfiler } from 'node:v8';
import { startInProcessTarget } from './harness/in-process-target.js';
import { isTargetName, TARGET_NAMES } from './harness/target-list.js';

// `npm run bench:promoted -- <target> [connections]`: bytes the young-generation collections
// moved into the old generation while the connections opened, per connection. Beyond what a
// connection keeps (`npm run bench:heap`), the rest is garbage of the upgrade that only a full
// collection frees: a lead when RSS per connection runs above heap (BENCHMARKS.md, Express).

interface SpaceStatistics {
  spaceName: string;
  spaceUsedSize: number;
}

interface GcStatistics {
  gcType: string;
  beforeGC: { heapSpaceStatistics: SpaceStatistics[] };
  afterGC: { heapSpaceStatistics: SpaceStatistics[] };
}

await measure(process.argv[2], Number(process.argv[3] ?? 3000));

async function measure(name: string | undefined, connections: number): Promise<void> {
  if (name === undefined || !isTargetName(name)) {
    throw new Error(`usage: npm run bench:promoted -- <${TARGET_NAMES.join('|')}> [connections]`);
  }
  const { target, clients, open } = await startInProcessTarget(name);
  const profiler = new GCProfiler();
  profiler.start();
  await open(connections);
  while (target.openConnections() < connections) await nextTurn();
  const statistics = (profiler.stop()?.statistics ?? []) as GcStatistics[];
  await clients.all('closeAll', null);
  await clients.stop();
  const scavenges = statistics.filter((gc) => gc.gcType === 'Scavenge');
  const promoted = scavenges.reduce((sum, gc) => sum + oldGrowth(gc), 0);
  const perConnection = (promoted / 1024 / connections).toFixed(1);
  process.stdout.write(
    `${name}: ${perConnection} KiB promoted per connection while ${connections} opened ` +
      `(${scavenges.length} scavenges, ${statistics.length - scavenges.length} other collections)\n`,
  );
  process.exit(0);
}

/** Growth of the old generation across one scavenge: what it promoted. */
function oldGrowth(gc: GcStatistics): number {
  return usedOld(gc.afterGC.heapSpaceStatistics) - usedOld(gc.beforeGC.heapSpaceStatistics);
}

function usedOld(spaces: SpaceStatistics[]): number {
  return spaces.find((space) => space.spaceName === 'old_space')?.spaceUsedSize ?? 0;
}
