import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, type Hub, type HubOptions, type RouteTable } from '@wslane/core';
import { afterEach } from 'vitest';

/** A hub attached to a plain node:http server on 127.0.0.1, port 0. */
export interface HubServer {
  readonly hub: Hub;
  readonly server: Server;
  url(path: string): string;
  close(): Promise<void>;
}

export async function startHubServer(
  routes: RouteTable,
  options: HubOptions = {},
): Promise<HubServer> {
  const hub = createHub(options);
  const server = createServer((_req, res) => res.writeHead(404).end());
  hub.attach(server, routes);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hub,
    server,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    close: async () => {
      await hub.close({ timeout: 500 });
      // Nothing of any channel may be left behind: no channel, no pending upgrade, no timer.
      const stats = hub.stats();
      if (stats.active !== 0 || stats.pending !== 0 || stats.timers !== 0) {
        throw new Error(`hub left state behind: ${JSON.stringify(stats)}`);
      }
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Starts hub servers for one test file and closes every one of them after each test. */
export function useHubServers(): (routes: RouteTable, options?: HubOptions) => Promise<HubServer> {
  const open: HubServer[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((server) => server.close()));
  });
  return async (routes, options) => {
    const server = await startHubServer(routes, options);
    open.push(server);
    return server;
  };
}
