import { waitUntil } from '../harness/clock.js';
import { Histogram } from '../report/histogram.js';
import { median } from '../report/stats.js';
import { FanoutRounds } from './fanout-rounds.js';
import type { Sample, Scenario } from './scenario.js';

/** Fan-out: one room of thousands, one 256-byte message at a time to all of them. */
export const fanoutScenario: Scenario = {
  name: 'fanout',
  title: 'Fan-out',
  description:
    'One room, a 256 B message with its send time, the next once every member got the previous; server CPU per delivery, time to reach all, delivery latency.',
  targets: ['ws', 'ws-preframed', 'socket-io', 'wslane-express', 'wslane-koa', 'wslane-hono'],
  clientProcesses: 2,
  metrics: [
    {
      key: 'cpuPerUnit',
      label: 'server CPU µs/delivery',
      digits: 2,
      better: 'lower',
      ratio: true,
      primary: true,
    },
    { key: 'reachAll', label: 'reach all ms (median)', digits: 1, better: 'lower', ratio: true },
    { key: 'p50', label: 'delivery p50 ms', digits: 1, better: 'lower' },
    { key: 'p99', label: 'delivery p99 ms', digits: 1, better: 'lower' },
    { key: 'missed', label: 'missed', digits: 0, better: 'lower' },
  ],
  async run({ server, clients, clientTarget, profile }) {
    const settings = profile.fanout;
    const rounds = new FanoutRounds(server, clients);
    const perProcess = clients.processes.map(() => 0);
    const samples: Sample[] = [];
    let members = 0;
    for (const roomSize of settings.roomSizes) {
      const adding = clients.split(roomSize - members);
      const opened = await clients.all(
        'open',
        (index) => ({ target: clientTarget, path: '/room', count: adding[index] ?? 0 }),
        120_000,
      );
      opened.forEach((count, index) => {
        perProcess[index] = (perProcess[index] ?? 0) + count;
      });
      members += opened.reduce((sum, count) => sum + count, 0);
      if (members !== roomSize) throw new Error(`only ${members} of ${roomSize} connected`);
      rounds.setConnections(perProcess);
      const joined = await waitUntil(
        async () => (await server.request('roomSize', null)) === roomSize,
        15_000,
      );
      if (!joined) throw new Error(`the room never reached ${roomSize} members`);
      for (let i = 0; i < settings.warmupRounds; i++) await rounds.round(settings.roundTimeoutMs);
      await clients.all('fanout.record', { on: true });
      const before = await server.request('usage', null);
      const reachAll: number[] = [];
      let completed = 0;
      const deadline = Date.now() + settings.maxPhaseMs;
      for (let i = 0; i < settings.rounds && Date.now() < deadline; i++) {
        const micros = await rounds.round(settings.roundTimeoutMs);
        completed++;
        if (micros !== undefined) reachAll.push(micros);
      }
      const after = await server.request('usage', null);
      await clients.all('fanout.record', { on: false });
      const results = await clients.all('fanout.results', null);
      const latency = new Histogram();
      let received = 0;
      for (const result of results) {
        latency.merge(result.latency);
        received += result.received;
      }
      samples.push({
        variant: `${roomSize.toLocaleString('en-US')} clients`,
        metrics: {
          cpuPerUnit: (after.cpuMicros - before.cpuMicros) / (completed * roomSize),
          reachAll: median(reachAll) / 1000,
          p50: latency.percentile(50) / 1000,
          p99: latency.percentile(99) / 1000,
          missed: completed * roomSize - received,
        },
      });
    }
    return samples;
  },
};
