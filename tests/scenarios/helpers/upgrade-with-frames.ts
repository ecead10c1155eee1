import { randomBytes } from 'node:crypto';
import { connect as connectTcp, type Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { parseServerFrames, type WireFrame } from './server-frames.js';

/** A masked client frame (RFC 6455 §5.3), FIN set, payload under 64 KiB. */
export function clientFrame(opcode: number, payload: Buffer | string): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const mask = randomBytes(4);
  const header =
    data.length < 126
      ? Buffer.from([0x80 | opcode, 0x80 | data.length])
      : Buffer.from([0x80 | opcode, 0x80 | 126, data.length >> 8, data.length & 0xff]);
  const masked = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i++) {
    masked[i] = (data[i] as number) ^ (mask[i % 4] as number);
  }
  return Buffer.concat([header, mask, masked]);
}

/** A raw TCP client that sent an upgrade request and everything after it in one write. */
export interface RawUpgrade {
  readonly socket: Socket;
  /** Everything the server wrote so far. */
  received(): Buffer;
  /** The HTTP status line's code, once the response head arrived. */
  status(): Promise<number>;
  /** Waits until the server wrote `count` frames after its 101. */
  frames(count: number): Promise<WireFrame[]>;
  /** Waits until the server closed the connection. */
  closed(): Promise<void>;
}

/**
 * Connects to 127.0.0.1:`port` and writes the upgrade request for `path` and `after` (already
 * framed bytes) in the same TCP write, as a client that does not wait for the 101 would.
 */
export async function upgradeWithFrames(
  port: number,
  path: string,
  after: readonly Buffer[],
): Promise<RawUpgrade> {
  const socket = connectTcp(port, '127.0.0.1');
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    }),
    2000,
    'tcp connect',
  );
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  let wake: (() => void) | undefined;
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    wake?.();
  });
  void ended.then(() => wake?.());
  const request = [
    `GET ${path} HTTP/1.1`,
    'Host: 127.0.0.1',
    'Connection: Upgrade',
    'Upgrade: websocket',
    'Sec-WebSocket-Version: 13',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    '',
    '',
  ].join('\r\n');
  socket.write(Buffer.concat([Buffer.from(request), ...after]));
  const received = (): Buffer => Buffer.concat(chunks);
  const until = async (ready: () => boolean, label: string): Promise<void> => {
    let closed = false;
    void ended.then(() => {
      closed = true;
    });
    while (!ready()) {
      if (closed) throw new Error(`connection closed before ${label}`);
      await withTimeout(
        new Promise<void>((resolve) => {
          wake = resolve;
        }),
        2000,
        label,
      );
    }
  };
  return {
    socket,
    received,
    async status() {
      await until(() => received().includes('\r\n'), 'status line');
      return Number(received().toString('latin1').split(' ')[1]);
    },
    async frames(count) {
      await until(() => parseServerFrames(received()).length >= count, `${count} frames`);
      return parseServerFrames(received()).slice(0, count);
    },
    closed: () => withTimeout(ended, 2000, 'server closed the connection'),
  };
}
