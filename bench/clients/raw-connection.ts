import { connect, type Socket } from 'node:net';
import type { ClientTarget, TargetPath } from '../harness/protocol.js';
import type { BenchConnection } from './connection.js';

const OPEN_TIMEOUT_MS = 15_000;
const CLOSE_TIMEOUT_MS = 5_000;
const HANDSHAKE_END = Buffer.from('\r\n\r\n');
const CLOSE_NORMAL = Buffer.from([0x03, 0xe8]);
// Any key will do: the bench does not check the server's Sec-WebSocket-Accept.
const KEY = 'd3NsYW5lLWJlbmNobWFyaw==';

/** A raw connection can also trade one message with an echo route (not with socket.io). */
export interface RawBenchConnection extends BenchConnection {
  /** Sends `data` and resolves when the next data message arrives. */
  exchange(data: Buffer): Promise<void>;
}

/**
 * A minimal WebSocket client on a raw TCP socket for the scenarios that only open, hold and
 * close connections (idle-mem, churn): no HTTP agent, no key generation, no per-message API, so
 * the client process stays cheap and the server is what gets measured. It answers pings (and
 * engine.io's "2"), completes socket.io's namespace connect, and closes with a close handshake.
 */
export function openRawConnection(
  target: ClientTarget,
  path: TargetPath,
): Promise<RawBenchConnection> {
  return new Promise((resolve, reject) => {
    const socket = connect(target.port, '127.0.0.1');
    socket.setNoDelay(true);
    const timer = setTimeout(() => fail(new Error('open timed out')), OPEN_TIMEOUT_MS);
    const fail = (error: Error): void => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    const connection = new RawConnection(socket, target, path, () => {
      clearTimeout(timer);
      resolve(connection);
    });
    socket.once('error', fail);
    socket.once('close', () => fail(new Error('closed before open')));
  });
}

class RawConnection implements RawBenchConnection {
  readonly #socket: Socket;
  #onData: (() => void) | undefined;
  readonly #socketIo: boolean;
  readonly #namespace: string;
  #onOpen: (() => void) | undefined;
  #pending: Buffer = Buffer.alloc(0);
  #upgraded = false;
  #closing = false;

  constructor(socket: Socket, target: ClientTarget, path: TargetPath, onOpen: () => void) {
    this.#socket = socket;
    this.#socketIo = target.protocol === 'socket.io';
    this.#namespace = path === '/echo' ? '' : `${path},`;
    this.#onOpen = onOpen;
    const url = this.#socketIo ? '/socket.io/?EIO=4&transport=websocket' : path;
    socket.write(
      `GET ${url} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    socket.on('data', (chunk: Buffer) => this.#read(chunk));
  }

  send(data: Buffer): void {
    this.#socket.write(toClientFrame(0x2, data));
  }

  exchange(data: Buffer): Promise<void> {
    if (this.#socketIo)
      return Promise.reject(new Error('exchange speaks WebSocket, not socket.io'));
    return new Promise((resolve) => {
      this.#onData = resolve;
      this.send(data);
    });
  }

  close(): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.removeAllListeners('close');
      this.#socket.removeAllListeners('error');
      this.#socket.on('error', () => this.#socket.destroy());
      const timer = setTimeout(() => this.#socket.destroy(), CLOSE_TIMEOUT_MS);
      this.#socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.#closing = true;
      this.#socket.write(toClientFrame(0x8, CLOSE_NORMAL));
    });
  }

  #read(chunk: Buffer): void {
    let data = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    if (!this.#upgraded) {
      const end = data.indexOf(HANDSHAKE_END);
      if (end < 0) {
        this.#pending = data;
        return;
      }
      if (!data.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
        this.#socket.destroy(
          new Error(`upgrade refused: ${data.subarray(0, 40).toString('latin1')}`),
        );
        return;
      }
      this.#upgraded = true;
      data = data.subarray(end + HANDSHAKE_END.length);
      if (!this.#socketIo) this.#opened();
    }
    this.#pending = this.#readFrames(data);
  }

  /** Handles every complete frame of `data`; returns the incomplete rest. */
  #readFrames(data: Buffer): Buffer {
    let offset = 0;
    while (data.length - offset >= 2) {
      const opcode = (data[offset] as number) & 0x0f;
      let length = (data[offset + 1] as number) & 0x7f;
      let header = 2;
      if (length === 126) {
        if (data.length - offset < 4) break;
        length = data.readUInt16BE(offset + 2);
        header = 4;
      } else if (length === 127) {
        if (data.length - offset < 10) break;
        length = Number(data.readBigUInt64BE(offset + 2));
        header = 10;
      }
      if (data.length - offset < header + length) break;
      this.#onFrame(opcode, data.subarray(offset + header, offset + header + length));
      offset += header + length;
    }
    return offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
  }

  #onFrame(opcode: number, payload: Buffer): void {
    if (opcode === 0x9) {
      this.#socket.write(toClientFrame(0xa, payload));
    } else if (opcode === 0x8) {
      if (!this.#closing) this.#socket.write(toClientFrame(0x8, payload.subarray(0, 2)));
      this.#socket.end();
    } else if (opcode === 0x1 && this.#socketIo) {
      this.#onEngineIoPacket(payload.toString('utf8'));
    } else if (opcode === 0x1 || opcode === 0x2) {
      const onData = this.#onData;
      this.#onData = undefined;
      onData?.();
    }
  }

  /** engine.io: "0{…}" open, "2" ping; socket.io: "40…" namespace connected. */
  #onEngineIoPacket(packet: string): void {
    if (packet.startsWith('0{')) {
      this.#socket.write(toClientFrame(0x1, Buffer.from(`40${this.#namespace}`)));
    } else if (packet === '2') {
      this.#socket.write(toClientFrame(0x1, Buffer.from('3')));
    } else if (packet.startsWith(`40${this.#namespace}`)) {
      this.#opened();
    }
  }

  #opened(): void {
    const onOpen = this.#onOpen;
    this.#onOpen = undefined;
    if (onOpen === undefined) return;
    this.#socket.removeAllListeners('close');
    this.#socket.removeAllListeners('error');
    this.#socket.on('error', () => this.#socket.destroy());
    onOpen();
  }
}

/** A client frame (masked, with a zero masking key, which leaves the payload as it is). */
function toClientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? 6 : length < 65_536 ? 8 : 14;
  const frame = Buffer.alloc(header + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) {
    frame[1] = 0x80 | length;
  } else if (length < 65_536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  payload.copy(frame, header);
  return frame;
}
