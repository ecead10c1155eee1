import { once } from 'node:events';
import type { Socket as NetSocket } from 'node:net';
import { io, type Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import type { ClientTarget, TargetPath } from '../harness/protocol.js';

/** One client connection of a benchmark, whatever protocol the target speaks. */
export interface BenchConnection {
  send(data: Buffer): void;
  /** Closes politely and resolves once the connection is gone (terminated after a deadline). */
  close(): Promise<void>;
}

const OPEN_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;

/** Opens one connection to `path` of `target`; every message it receives goes to `onMessage`. */
export function openConnection(
  target: ClientTarget,
  path: TargetPath,
  onMessage: (data: Buffer) => void,
): Promise<BenchConnection> {
  return target.protocol === 'socket.io'
    ? openSocketIo(target.port, path, onMessage)
    : openWebSocket(target.port, path, onMessage);
}

async function openWebSocket(
  port: number,
  path: TargetPath,
  onMessage: (data: Buffer) => void,
): Promise<BenchConnection> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, {
    perMessageDeflate: false,
    handshakeTimeout: OPEN_TIMEOUT_MS,
  });
  ws.on('message', onMessage as (data: unknown) => void);
  await once(ws, 'open');
  ws.on('error', ignore);
  // Sends of one tick leave in one write, as a real client batching its messages would.
  const socket = (ws as unknown as { _socket: NetSocket })._socket;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  return {
    send: (data) => {
      if (!corked) {
        corked = true;
        socket.cork();
        process.nextTick(uncork);
      }
      ws.send(data);
    },
    close: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = once(ws, 'close');
      ws.close();
      const timer = setTimeout(() => ws.terminate(), CLOSE_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
    },
  };
}

async function openSocketIo(
  port: number,
  path: TargetPath,
  onMessage: (data: Buffer) => void,
): Promise<BenchConnection> {
  const namespace = path === '/echo' ? '/' : path;
  const socket: Socket = io(`http://127.0.0.1:${port}${namespace}`, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    timeout: OPEN_TIMEOUT_MS,
  });
  socket.on('m', onMessage);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
  return {
    send: (data) => void socket.emit('m', data),
    close: async () => {
      const engine = socket.io.engine;
      if (engine.readyState === 'closed') return;
      const closed = new Promise<void>((resolve) => engine.once('close', () => resolve()));
      socket.disconnect();
      const timer = setTimeout(() => engine.close(), CLOSE_TIMEOUT_MS);
      await closed;
      clearTimeout(timer);
    },
  };
}

function ignore(): void {}
