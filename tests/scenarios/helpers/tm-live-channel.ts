import type { Socket } from 'node:net';
import type { Channel, HubOptions, RouteTable } from '@wslane/core';
import { connect, type TestClient } from '@wslane/core/testing';
import { createProbe } from '../../helpers/channel-probe.js';
import type { HubServer } from '../../helpers/hub-server.js';
import { acceptedSockets } from './accepted-sockets.js';
import { untilIo } from './fake-clock.js';

/** Timeouts of the TM tests that keep the heartbeat and the send stall out of the way. */
export const quiet = { heartbeat: false, sendStall: false } as const;

/** One open channel of a TM test: its client, the channel and the server's side of its socket. */
export interface Live {
  readonly client: TestClient;
  readonly channel: Channel;
  readonly serverSocket: Socket;
}

/** `openOne` on hubs that `start` (from `useHubServers`) starts and closes. */
export function liveOpener(
  start: (routes: RouteTable, options?: HubOptions) => Promise<HubServer>,
) {
  /** A hub with one route at /t, one client, the channel and the server's side of its socket. */
  return async function openOne(
    options: HubOptions,
    definition: Parameters<typeof createProbe>[0] = {},
    clientOptions: Parameters<typeof connect>[1] = {},
  ): Promise<Live & { probe: ReturnType<typeof createProbe> }> {
    const probe = createProbe(definition);
    const server = await start({ '/t': probe.route }, options);
    const sockets = acceptedSockets(server.server);
    const client = await connect(server.url('/t'), clientOptions);
    const channel = await probe.channel();
    return { probe, client, channel, serverSocket: sockets[0] as Socket };
  };
}

/** Waits (without moving fake time) until the server has read bytes beyond `before`. */
export function arrived(live: Live, before: number): Promise<void> {
  return untilIo(() => live.serverSocket.bytesRead > before, 'bytes at the server');
}

/** An action that makes the client send (`send`), then waits until the server read it. */
export const fromClient =
  (send: (client: TestClient) => void) =>
  async (live: Live): Promise<void> => {
    const before = live.serverSocket.bytesRead;
    send(live.client);
    await arrived(live, before);
  };
