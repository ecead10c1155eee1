import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { nowMicros } from '../harness/clock.js';
import type { FloodArgs, FloodResult, ServerCommands, ServerUsage } from '../harness/protocol.js';
import { serveRpc } from '../harness/rpc.js';
import { isTargetName } from '../harness/target-list.js';
import { loadTarget } from './load-target.js';
import type { FloodJob, TargetServer } from './target-server.js';

// The server process of one target: `server-host.ts <target>`, driven over IPC by the runner.

const FANOUT_MESSAGE_BYTES = 256;
const RSS_SAMPLE_MS = 20;

const name = process.argv[2] ?? '';
if (!isTargetName(name)) throw new Error(`unknown target ${name}`);
const collectGarbage = (globalThis as { gc?: () => void }).gc;
const target = await (await loadTarget(name))();
const port = (target.server.address() as AddressInfo).port;

serveRpc<ServerCommands>(
  {
    usage,
    gc: fullGc,
    churnHeap: async ({ megabytes }) => {
      touchYoungGeneration(megabytes);
      return fullGc();
    },
    broadcast: ({ seq }) => {
      const payload = Buffer.alloc(FANOUT_MESSAGE_BYTES);
      payload.writeUInt32LE(seq, 0);
      payload.writeDoubleLE(nowMicros(), 8);
      target.broadcast(payload);
      return null;
    },
    roomSize: () => target.roomSize(),
    openConnections: () => target.openConnections(),
    floodConnections: () => target.floodConnections(),
    flood: (args) => flood(target, args),
    inspect: () => ({
      ...target.inspect(),
      ...activeResources(),
      upgradeListeners: target.server.listenerCount('upgrade'),
      connectionListeners: target.server.listenerCount('connection'),
    }),
  },
  { port },
);

function usage(): ServerUsage {
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  return {
    cpuMicros: cpu.user + cpu.system,
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    arrayBuffers: memory.arrayBuffers,
  };
}

async function fullGc(): Promise<ServerUsage> {
  if (collectGarbage === undefined) throw new Error('the server needs --expose-gc');
  // Several passes with turns between them: weak callbacks and finalizers free more each time.
  for (let pass = 0; pass < 4; pass++) {
    collectGarbage();
    await nextTurn();
  }
  return usage();
}

async function flood(server: TargetServer, args: FloodArgs): Promise<FloodResult> {
  const startRss = process.memoryUsage.rss();
  let peakRss = startRss;
  let stopped = false;
  let capped = false;
  const job: FloodJob = { messageBytes: args.messageBytes, sent: 0, stopped: () => stopped };
  const startedAt = nowMicros();
  server.flood(job);
  while (nowMicros() - startedAt < args.durationMs * 1000) {
    await sleep(RSS_SAMPLE_MS);
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
    if (rss > args.maxRssBytes) {
      capped = true;
      break;
    }
  }
  stopped = true;
  return { connections: server.floodConnections(), sent: job.sent, startRss, peakRss, capped };
}

/** Short-lived garbage, so the young generation is at its size and every page of it touched. */
function touchYoungGeneration(megabytes: number): void {
  let keep: unknown[] = [];
  for (let i = 0; i < megabytes * 1024; i++) {
    keep.push(new Array(120).fill(i));
    if (keep.length === 64) keep = [];
  }
}

function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const resource of process.getActiveResourcesInfo()) {
    const key = `active${resource}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
