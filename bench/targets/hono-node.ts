import type { Server } from 'node:http';
import { serve, upgradeWebSocket, type WebSocketLike } from '@hono/node-server';
import { Hono } from 'hono';
import type { WSContext, WSEvents } from 'hono/ws';
import { WebSocketServer } from 'ws';
import { floodLoop } from './flood-loop.js';
import type { StartTarget, TargetServer } from './target-server.js';
import { startWsHeartbeat } from './ws-heartbeat.js';

type Context = WSContext<WebSocketLike>;

/**
 * @hono/node-server's own `upgradeWebSocket` (`serve({ fetch, websocket: { server } })` with a
 * noServer `ws` server), with ws's README heartbeat.
 */
export const startTarget: StartTarget = async () => {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const room = new Set<Context>();
  const flooded = new Set<Context>();
  startWsHeartbeat(wss);
  // Event objects built once and shared by every connection (no closures per connection).
  const echoEvents: WSEvents<WebSocketLike> = {
    onMessage: (event, ws) => ws.send(event.data as ArrayBuffer),
  };
  const roomEvents: WSEvents<WebSocketLike> = {
    onOpen: (_event, ws) => void room.add(ws),
    onClose: (_event, ws) => void room.delete(ws),
  };
  const floodEvents: WSEvents<WebSocketLike> = {
    onOpen: (_event, ws) => void flooded.add(ws),
    onClose: (_event, ws) => void flooded.delete(ws),
  };
  const app = new Hono();
  app.get(
    '/echo',
    upgradeWebSocket(() => echoEvents),
  );
  app.get(
    '/room',
    upgradeWebSocket(() => roomEvents),
  );
  app.get(
    '/flood',
    upgradeWebSocket(() => floodEvents),
  );
  const server = await new Promise<Server>((resolve) => {
    const created = serve(
      { fetch: app.fetch, port: 0, hostname: '127.0.0.1', websocket: { server: wss } },
      () => resolve(created as Server),
    );
  });
  const target: TargetServer = {
    server,
    broadcast(payload) {
      for (const ws of room) ws.send(payload as Uint8Array<ArrayBuffer>);
    },
    roomSize: () => room.size,
    openConnections: () => wss.clients.size,
    floodConnections: () => flooded.size,
    flood(job) {
      for (const ws of flooded) {
        void floodLoop((data) => ws.send(data as Uint8Array<ArrayBuffer>), job);
      }
    },
    inspect: () => ({ clients: wss.clients.size, room: room.size }),
  };
  return target;
};
