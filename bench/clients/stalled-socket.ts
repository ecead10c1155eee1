import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { ClientTarget } from '../harness/protocol.js';

const OPEN_TIMEOUT_MS = 10_000;

/**
 * A client that upgrades to /flood and then never reads: a raw TCP socket that reads only its
 * handshake (for socket.io also engine.io's open packet, then sends the namespace connect) and
 * then stays paused, so everything the server sends piles up in the server.
 */
export async function openStalledSocket(target: ClientTarget): Promise<Socket> {
  const socket = connect(target.port, '127.0.0.1');
  socket.on('error', ignore);
  await once(socket, 'connect');
  const socketIo = target.protocol === 'socket.io';
  const path = socketIo ? '/socket.io/?EIO=4&transport=websocket' : '/flood';
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\n` +
      `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  // The 101 (and engine.io's open packet "0{…}") is the last thing this client ever reads.
  const until = socketIo ? '0{' : '\r\n\r\n';
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error('no handshake answer')), OPEN_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('latin1');
      if (!seen.includes(until)) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      resolve();
    };
    socket.on('data', onData);
  });
  if (socketIo) socket.write(toMaskedTextFrame('40/flood,'));
  return socket;
}

function toMaskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text);
  if (payload.length > 125) throw new Error('short frames only');
  const mask = randomBytes(4);
  const frame = Buffer.alloc(6 + payload.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) {
    frame[6 + i] = (payload[i] ?? 0) ^ (mask[i % 4] ?? 0);
  }
  return frame;
}

function ignore(): void {}
