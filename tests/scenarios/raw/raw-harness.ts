import {
  createRoute,
  type HubOptions,
  type RawMessage,
  type RouteDefinition,
  type RouteTable,
} from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import { afterEach, expect } from 'vitest';
import { type ChannelProbe, createProbe } from '../../helpers/channel-probe.js';
import { type HubServer, useHubServers } from '../../helpers/hub-server.js';

/** An echo route probed for its channels and errors, next to a health route, on a hub server. */
export interface RawServer {
  readonly server: HubServer;
  readonly port: number;
  /** The route abusive clients talk to (`/raw`): echoes every message. */
  readonly probe: ChannelProbe<RawMessage, RawMessage>;
  /**
   * The server keeps serving others: the health client (connected before the abuse) still
   * echoes, and a new client can still connect and echo.
   */
  expectHealthy(): Promise<void>;
}

/** Per test: a hub server for raw-socket abuse, with a health client closed after the test. */
export function useRawServer(): (
  options?: HubOptions,
  definition?: RouteDefinition<RawMessage, RawMessage, unknown>,
  routes?: RouteTable,
) => Promise<RawServer> {
  const startHubServer = useHubServers();
  const clients: TestClient[] = [];
  // Registered after useHubServers' hook, so it runs first: clients close before the hub does.
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  return async (options = {}, definition = {}, routes = {}) => {
    const probe = createProbe<RawMessage, RawMessage>({
      onMessage: (message, channel) => {
        channel.trySend(message);
      },
      ...definition,
    });
    const health = createRoute({
      name: 'health',
      onMessage: (message, channel) => {
        channel.trySend(message);
      },
    });
    const server = await startHubServer(
      { ...routes, '/raw': probe.route, '/health': health },
      options,
    );
    const port = Number(new URL(server.url('/')).port);
    const healthClient = await connect(server.url('/health'));
    clients.push(healthClient);
    let checks = 0;
    return {
      server,
      port,
      probe,
      async expectHealthy() {
        const text = `health ${++checks}`;
        healthClient.ws.send(text);
        expect(await healthClient.next()).toBe(text);
        const fresh = await connect(server.url('/health'));
        fresh.ws.send(text);
        expect(await fresh.next()).toBe(text);
        await fresh.close();
      },
    };
  };
}
