import { waitUntil } from '../harness/clock.js';
import {
  FIXED_YOUNG_GENERATION_FLAGS,
  YOUNG_GENERATION_CHURN_MIB,
} from '../harness/young-generation.js';
import { Histogram } from '../report/histogram.js';
import { ALL_BUT_PREFRAMED, type Scenario } from './scenario.js';

const MIB = 1024 * 1024;
const MAX_PINGS = 1_000_000;

/** Slow consumer: one client never reads while the server floods it; a healthy one pings. */
export const slowConsumerScenario: Scenario = {
  name: 'slow-consumer',
  title: 'Slow consumer',
  description:
    'One client never reads while the server sends it 64 KiB messages as fast as the API lets it; server RSS growth (V8 young generation fixed at 2 × 16 MiB and resident before the start), and the round trip of a healthy client before and during.',
  targets: ALL_BUT_PREFRAMED,
  clientProcesses: 1,
  killServer: true,
  // Grown by V8 during the flood otherwise, in some runs and not others: 4–16 MiB of RSS that has
  // nothing to do with what the server queues.
  serverNodeFlags: FIXED_YOUNG_GENERATION_FLAGS,
  metrics: [
    { key: 'rssGrowth', label: 'RSS growth MiB', digits: 1, better: 'lower', primary: true },
    { key: 'queuedMiB', label: 'sent MiB', digits: 0, better: 'lower' },
    { key: 'healthyP99Before', label: 'healthy p99 ms before', digits: 2, better: 'lower' },
    { key: 'healthyP99During', label: 'healthy p99 ms during', digits: 2, better: 'lower' },
    { key: 'p99Ratio', label: 'p99 during/before', digits: 2, better: 'lower' },
    { key: 'capped', label: 'hit RSS cap', digits: 0, better: 'lower' },
  ],
  async run({ server, clients, clientTarget, profile }) {
    const settings = profile.slowConsumer;
    const client = clients.first;
    await client.request('slow.open', { target: clientTarget });
    const ready = await waitUntil(
      async () => (await server.request('floodConnections', null)) >= 1,
      10_000,
    );
    if (!ready) throw new Error('the stalled client never reached /flood');
    await server.request('churnHeap', { megabytes: YOUNG_GENERATION_CHURN_MIB });
    const before = await client.request('slow.ping', {
      durationMs: settings.baselineMs,
      maxRoundTrips: MAX_PINGS,
    });
    const [flood, during] = await Promise.all([
      server.request(
        'flood',
        {
          durationMs: settings.floodMs,
          messageBytes: settings.messageBytes,
          maxRssBytes: settings.maxRssBytes,
        },
        settings.floodMs + 60_000,
      ),
      client.request('slow.ping', { durationMs: settings.floodMs, maxRoundTrips: MAX_PINGS }),
    ]);
    const p99Before = Histogram.from(before.latency).percentile(99) / 1000;
    const p99During = Histogram.from(during.latency).percentile(99) / 1000;
    return [
      {
        variant: `${settings.messageBytes / 1024} KiB × ${settings.floodMs / 1000} s`,
        metrics: {
          rssGrowth: (flood.peakRss - flood.startRss) / MIB,
          queuedMiB: (flood.sent * settings.messageBytes) / MIB,
          healthyP99Before: p99Before,
          healthyP99During: p99During,
          p99Ratio: p99During / p99Before,
          capped: flood.capped ? 1 : 0,
        },
      },
    ];
  },
};
