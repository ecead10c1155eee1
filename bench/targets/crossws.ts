import { createServer } from 'node:http';
import type { Peer } from 'crossws';
import crossws from 'crossws/adapters/node';
import { floodLoop } from './flood-loop.js';
import { listenLocal, type StartTarget, type TargetServer } from './target-server.js';

/** crossws 0.4 with its Node adapter, on `node:http`; its own heartbeat (idleTimeout 30 s). */
export const startTarget: StartTarget = async () => {
  const room = new Set<Peer>();
  const flooded = new Set<Peer>();
  const adapter = crossws({
    hooks: {
      open(peer) {
        const path = new URL(peer.request.url).pathname;
        if (path === '/room') room.add(peer);
        else if (path === '/flood') flooded.add(peer);
      },
      // Only /echo clients ever send.
      message(peer, message) {
        peer.send(message.rawData);
      },
      close(peer) {
        room.delete(peer);
        flooded.delete(peer);
      },
    },
  });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => void adapter.handleUpgrade(req, socket, head));
  await listenLocal(server);
  const peerCount = (): number => {
    let count = 0;
    for (const peers of adapter.peers.values()) count += peers.size;
    return count;
  };
  const target: TargetServer = {
    server,
    broadcast(payload) {
      for (const peer of room) peer.send(payload);
    },
    roomSize: () => room.size,
    openConnections: peerCount,
    floodConnections: () => flooded.size,
    flood(job) {
      for (const peer of flooded) void floodLoop((data) => peer.send(data), job);
    },
    inspect: () => ({ clients: peerCount(), room: room.size }),
  };
  return target;
};
