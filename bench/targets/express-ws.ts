import { createServer } from 'node:http';
import express from 'express';
import expressWs from 'express-ws';
import type { WebSocket } from 'ws';
import { floodLoop } from './flood-loop.js';
import { ignoreError, listenLocal, type StartTarget, type TargetServer } from './target-server.js';
import { startWsHeartbeat } from './ws-heartbeat.js';

/** express-ws 5 on Express 5 (it bundles ws 7), with ws's README heartbeat. */
export const startTarget: StartTarget = async () => {
  const base = express();
  const server = createServer(base);
  const { app, getWss } = expressWs(base, server);
  const room = new Set<WebSocket>();
  const flooded = new Set<WebSocket>();
  startWsHeartbeat(getWss());
  app.ws('/echo', (ws) => {
    ws.on('error', ignoreError);
    ws.on('message', echoBack);
  });
  app.ws('/room', (ws) => {
    ws.on('error', ignoreError);
    room.add(ws);
    ws.once('close', () => room.delete(ws));
  });
  app.ws('/flood', (ws) => {
    ws.on('error', ignoreError);
    flooded.add(ws);
    ws.once('close', () => flooded.delete(ws));
  });
  await listenLocal(server);
  const target: TargetServer = {
    server,
    broadcast(payload) {
      for (const ws of room) ws.send(payload);
    },
    roomSize: () => room.size,
    openConnections: () => getWss().clients.size,
    floodConnections: () => flooded.size,
    flood(job) {
      for (const ws of flooded) void floodLoop((data) => ws.send(data), job);
    },
    inspect: () => ({ clients: getWss().clients.size, room: room.size }),
  };
  return target;
};

/** One listener shared by every connection (no closure per connection). */
function echoBack(this: WebSocket, data: Buffer): void {
  this.send(data);
}
