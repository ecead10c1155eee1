import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

const owners = new WeakMap<Socket, WebSocket>();

/**
 * The server side of every TCP connection `server` accepts from now on, in order: what a test
 * needs to see bytes arrive (`bytesRead`), reads pause (`isPaused()`) or listeners go away.
 */
export function acceptedSockets(server: Server): Socket[] {
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => {
    sockets.push(socket);
    // ws marks the socket as its own just before it adds its listeners: remember the owner, as
    // ws forgets it again once the socket closed.
    socket.on('newListener', (event: string | symbol) => {
      const owner = ownerOf(socket);
      if (event === 'data' && owner !== undefined) owners.set(socket, owner);
    });
  });
  return sockets;
}

/** The `ws` WebSocket that owns (or owned) an upgraded server socket. */
export function webSocketOf(socket: Socket): WebSocket | undefined {
  return owners.get(socket) ?? ownerOf(socket);
}

function ownerOf(socket: Socket): WebSocket | undefined {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket');
  return key === undefined
    ? undefined
    : (socket as unknown as Record<symbol, WebSocket | undefined>)[key];
}
