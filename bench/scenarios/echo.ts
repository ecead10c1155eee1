import { pause } from '../harness/clock.js';
import { Histogram } from '../report/histogram.js';
import { ALL_BUT_PREFRAMED, type Sample, type Scenario } from './scenario.js';

/** Echo: many connections with messages in flight, each message echoed back by the server. */
export const echoScenario: Scenario = {
  name: 'echo',
  title: 'Echo',
  description:
    '50 connections, 32 binary messages in flight on each; server CPU per round trip, throughput, round-trip latency.',
  targets: ALL_BUT_PREFRAMED,
  clientProcesses: 1,
  metrics: [
    {
      key: 'cpuPerUnit',
      label: 'server CPU µs/round trip',
      digits: 2,
      better: 'lower',
      ratio: true,
      primary: true,
    },
    { key: 'throughput', label: 'round trips/s', digits: 0, better: 'higher', ratio: true },
    { key: 'p50', label: 'p50 ms', digits: 2, better: 'lower' },
    { key: 'p99', label: 'p99 ms', digits: 2, better: 'lower' },
    { key: 'serverCpu', label: 'server CPU %', digits: 0, better: 'lower' },
    { key: 'clientCpu', label: 'client CPU %', digits: 0, better: 'lower' },
  ],
  async run({ server, clients, clientTarget, profile }) {
    const settings = profile.echo;
    const client = clients.first;
    const opened = await client.request('open', {
      target: clientTarget,
      path: '/echo',
      count: settings.connections,
    });
    if (opened !== settings.connections) throw new Error(`only ${opened} connections opened`);
    const samples: Sample[] = [];
    for (const messageBytes of settings.messageSizes) {
      await client.request('echo.start', { inFlight: settings.inFlight, messageBytes });
      await pause(settings.warmupMs);
      const [before] = await Promise.all([
        server.request('usage', null),
        client.request('echo.mark', null),
      ]);
      await pause(settings.measureMs);
      const [after, result] = await Promise.all([
        server.request('usage', null),
        client.request('echo.stop', null),
      ]);
      if (result.roundTrips === 0) throw new Error('no round trip completed');
      const cpuMicros = after.cpuMicros - before.cpuMicros;
      const latency = Histogram.from(result.latency);
      samples.push({
        variant: `${messageBytes >= 1024 ? `${messageBytes / 1024} KiB` : `${messageBytes} B`}`,
        metrics: {
          cpuPerUnit: cpuMicros / result.roundTrips,
          throughput: result.roundTrips / (result.elapsedMicros / 1e6),
          p50: latency.percentile(50) / 1000,
          p99: latency.percentile(99) / 1000,
          serverCpu: (cpuMicros / result.elapsedMicros) * 100,
          clientCpu: (result.clientCpuMicros / result.elapsedMicros) * 100,
        },
      });
    }
    return samples;
  },
};
