import { createProbe } from '../../helpers/channel-probe.js';
import type { useHubServers } from '../../helpers/hub-server.js';
import type { useWireClients } from './use-wire-clients.js';

/**
 * A channel whose wire client reads nothing (paused), on a lane with a 16 KiB high-water mark and
 * room for 64 MiB: sends pile up in the lane and the socket, for tests of how a close or a dead
 * peer settles them.
 */
export async function openPausedChannel(
  startHubServer: ReturnType<typeof useHubServers>,
  openWire: ReturnType<typeof useWireClients>,
) {
  const probe = createProbe();
  const server = await startHubServer(
    { '/cl': probe.route },
    { backpressure: { highWaterMark: '16kb', maxBufferedBytes: '64mb' } },
  );
  const client = await openWire(server.url('/cl'));
  const channel = await probe.channel();
  client.pause();
  return { client, channel };
}

/** The indexes of `sends` that have resolved (handed to the socket), growing as they do. */
export function handedSends(sends: readonly Promise<boolean>[]): Set<number> {
  const handed = new Set<number>();
  sends.forEach(
    (send, i) =>
      void send.then(
        () => handed.add(i),
        () => {},
      ),
  );
  return handed;
}
