import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { floodLoop } from './flood-loop.js';
import { listenLocal, type StartTarget, type TargetServer } from './target-server.js';

/**
 * socket.io 4, websocket transport only, its own heartbeat (pingInterval 25 s). Namespaces stand
 * for the paths: `/` echoes, `/room` joins the room, `/flood` is flooded. Every message is event `m`.
 */
export const startTarget: StartTarget = async () => {
  const server = createServer((_req, res) => res.writeHead(404).end());
  const io = new Server(server, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    socket.on('m', echoBack);
  });
  const room = io.of('/room');
  room.on('connection', (socket) => socket.join('room'));
  const flood = io.of('/flood');
  await listenLocal(server);
  const roomSize = (): number => room.adapter.rooms.get('room')?.size ?? 0;
  const target: TargetServer = {
    server,
    broadcast(payload) {
      room.to('room').emit('m', payload);
    },
    roomSize,
    openConnections: () => io.engine.clientsCount,
    floodConnections: () => flood.sockets.size,
    flood(job) {
      for (const socket of flood.sockets.values()) {
        void floodLoop((data) => socket.emit('m', data), job);
      }
    },
    inspect: () => ({ clients: io.engine.clientsCount, room: roomSize() }),
  };
  return target;
};

/** One listener shared by every connection (no closure per connection). */
function echoBack(this: Socket, data: Buffer): void {
  this.emit('m', data);
}
