import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import * as wsExports from 'ws';
import { type WebSocket, WebSocketServer } from 'ws';
import { floodLoop } from './flood-loop.js';
import {
  type FloodJob,
  ignoreError,
  listenLocal,
  type StartTarget,
  type TargetServer,
} from './target-server.js';
import { startWsHeartbeat } from './ws-heartbeat.js';

interface FrameOptions {
  readonly fin: boolean;
  readonly opcode: number;
  readonly mask: boolean;
  readonly readOnly: boolean;
  readonly rsv1: boolean;
}

/** ws's frame builder (a named export of its ESM wrapper); @types/ws does not declare it. */
const { Sender } = wsExports as unknown as {
  Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};

const BINARY_FRAME: FrameOptions = {
  fin: true,
  opcode: 2,
  mask: false,
  readOnly: false,
  rsv1: false,
};

/**
 * Raw `ws` on `node:http`: the floor. With `preframed`, a broadcast frames the message once
 * (`WebSocket.Sender.frame`) and writes the same bytes to every member's socket.
 */
export function createWsTarget(preframed: boolean): StartTarget {
  return async () => {
    const server = createServer((_req, res) => res.writeHead(404).end());
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    const room = new Map<WebSocket, Socket>();
    const flooded = new Set<WebSocket>();
    startWsHeartbeat(wss);
    wss.on('connection', (ws, req) => {
      ws.on('error', ignoreError);
      if (req.url === '/room') {
        room.set(ws, req.socket);
        ws.once('close', () => room.delete(ws));
      } else if (req.url === '/flood') {
        flooded.add(ws);
        ws.once('close', () => flooded.delete(ws));
      } else {
        ws.on('message', echoBack);
      }
    });
    await listenLocal(server);
    const target: TargetServer = {
      server,
      broadcast(payload) {
        if (preframed) {
          const frame = Buffer.concat(Sender.frame(payload, BINARY_FRAME));
          for (const socket of room.values()) socket.write(frame);
        } else {
          for (const ws of room.keys()) ws.send(payload);
        }
      },
      roomSize: () => room.size,
      openConnections: () => wss.clients.size,
      floodConnections: () => flooded.size,
      flood(job: FloodJob) {
        for (const ws of flooded) void floodLoop((data) => ws.send(data), job);
      },
      inspect: () => ({ clients: wss.clients.size, room: room.size }),
    };
    return target;
  };
}

export const startTarget: StartTarget = createWsTarget(false);

/** One listener shared by every connection (no closure per connection). */
function echoBack(this: WebSocket, data: Buffer): void {
  this.send(data);
}
