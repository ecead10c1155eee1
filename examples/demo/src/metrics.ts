import type { HubStats } from '@wslane/core';
import type { HttpReply } from './http-reply.js';

type Kind = 'gauge' | 'counter';
type Figure = readonly [name: string, kind: Kind, help: string, value: (stats: HubStats) => number];

const FIGURES: readonly Figure[] = [
  ['wslane_channels_active', 'gauge', 'Open channels.', (s) => s.active],
  ['wslane_channels_peak', 'gauge', 'Most channels open at once.', (s) => s.peak],
  ['wslane_upgrades_pending', 'gauge', 'Upgrades admitted, not yet open.', (s) => s.pending],
  ['wslane_channels_created_total', 'counter', 'Channels opened.', (s) => s.created],
  ['wslane_channels_released_total', 'counter', 'Channels closed and released.', (s) => s.released],
  ['wslane_messages_in_total', 'counter', 'Messages received.', (s) => s.messagesIn],
  ['wslane_messages_out_total', 'counter', 'Messages sent.', (s) => s.messagesOut],
  ['wslane_bytes_in_total', 'counter', 'Payload bytes received.', (s) => s.bytesIn],
  ['wslane_bytes_out_total', 'counter', 'Payload bytes sent.', (s) => s.bytesOut],
  ['wslane_dropped_total', 'counter', 'Outbound messages dropped by overflow.', (s) => s.dropped],
  [
    'wslane_hub_open',
    'gauge',
    '1 while the hub accepts connections.',
    (s) => +(s.state === 'open'),
  ],
];

/** The hub's stats in the Prometheus text exposition format (version 0.0.4). */
export function toPrometheusText(stats: HubStats): string {
  const lines: string[] = [];
  for (const [name, kind, help, value] of FIGURES) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${kind}`, `${name} ${value(stats)}`);
  }
  lines.push(
    '# HELP wslane_room_members Channels in each room.',
    '# TYPE wslane_room_members gauge',
  );
  for (const [room, size] of Object.entries(stats.rooms)) {
    lines.push(`wslane_room_members{room="${escapeLabel(room)}"} ${size}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `toPrometheusText` as an HTTP reply. */
export function metricsReply(stats: HubStats): HttpReply {
  return {
    status: 200,
    headers: {
      'content-type': 'text/plain; version=0.0.4; charset=utf-8',
      'cache-control': 'no-store',
    },
    body: toPrometheusText(stats),
  };
}

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}
