import type { Server } from 'node:http';
import { type Channel, createRoute, type Hub, type HubOptions, raw } from '@wslane/core';
import { WSLANE_MAX_BUFFERED_BYTES } from '../harness/wslane-limits.js';
import { type FloodJob, freshMessage, type TargetServer } from './target-server.js';

/**
 * The hub options of every wslane target: no rate limit, no connection caps (every client comes
 * from 127.0.0.1), the default heartbeat (30 s / 10 s) and backpressure (64 KiB / 2 MiB, close).
 */
export const WSLANE_OPTIONS: HubOptions = {
  limits: { rateLimit: false, maxConnections: 0, maxConnectionsPerIp: 0 },
  backpressure: { highWaterMark: 64 * 1024, maxBufferedBytes: WSLANE_MAX_BUFFERED_BYTES },
  timeouts: { heartbeat: { interval: '30s', timeout: '10s' } },
};

/** The three routes every wslane target mounts, with the raw codec. */
export interface WslaneRoutes {
  readonly echo: ReturnType<typeof createRoute>;
  readonly room: ReturnType<typeof createRoute>;
  readonly flood: ReturnType<typeof createRoute>;
  readonly flooded: Set<Channel>;
}

export function createWslaneRoutes(): WslaneRoutes {
  const flooded = new Set<Channel>();
  return {
    echo: createRoute({
      name: 'echo',
      codec: raw(),
      onMessage: (message, channel) => channel.send(message),
    }),
    room: createRoute({ name: 'room', codec: raw(), onOpen: (channel) => channel.join('room') }),
    flood: createRoute({
      name: 'flood',
      codec: raw(),
      onOpen: (channel) => void flooded.add(channel),
      onClose: (channel) => void flooded.delete(channel),
    }),
    flooded,
  };
}

/** The benchmark view of a wslane hub: room broadcast, counts, and a flood through `send`. */
export function toWslaneTarget(server: Server, hub: Hub, routes: WslaneRoutes): TargetServer {
  const room = hub.channels.room('room');
  return {
    server,
    broadcast(payload) {
      room.broadcast(payload);
    },
    roomSize: () => room.size,
    openConnections: () => hub.channels.size + hub.channels.pending,
    floodConnections: () => routes.flooded.size,
    flood(job) {
      for (const channel of routes.flooded) void floodChannel(channel, job);
    },
    inspect() {
      const stats = hub.stats();
      return {
        channels: stats.active,
        pending: stats.pending,
        timers: stats.timers,
        rooms: Object.keys(stats.rooms).length,
      };
    },
  };
}

/** As fast as the API lets it: each `send` is awaited, so the lane paces the producer. */
async function floodChannel(channel: Channel, job: FloodJob): Promise<void> {
  try {
    while (!job.stopped()) {
      await channel.send(freshMessage(job.messageBytes, job.sent));
      job.sent++;
    }
  } catch {
    // The channel closed under the flood: that ends this producer.
  }
}
