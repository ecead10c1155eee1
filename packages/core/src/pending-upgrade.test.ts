import type { IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PendingUpgrade, type UpgradeHost } from './pending-upgrade.js';

const host: UpgradeHost = {
  handshakeTimeoutMs: 10_000,
  accept: async () => undefined,
  settled: () => {},
};

/** A socket that counts written bytes like `net.Socket`. */
class CountingSocket extends Duplex {
  bytesWritten = 0;
  override _read(): void {}
  override _write(chunk: Buffer, _encoding: string, callback: () => void): void {
    this.bytesWritten += chunk.length;
    callback();
  }
}

function pendingOn(socket: CountingSocket): PendingUpgrade {
  return new PendingUpgrade(host, {} as IncomingMessage, socket, Buffer.alloc(0));
}

describe('PendingUpgrade.isAnswerable', () => {
  it('is true while waiting with nothing written', () => {
    expect(pendingOn(new CountingSocket()).isAnswerable).toBe(true);
  });

  it('is false once another listener wrote to the socket', () => {
    const socket = new CountingSocket();
    const pending = pendingOn(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
    expect(pending.isAnswerable).toBe(false);
    expect(pending.isOpen).toBe(true);
  });

  it('is false once the socket is destroyed', () => {
    const socket = new CountingSocket();
    const pending = pendingOn(socket);
    socket.destroy();
    expect(pending.isAnswerable).toBe(false);
  });

  it('is false once the upgrade was released', () => {
    const pending = pendingOn(new CountingSocket());
    pending.release();
    expect(pending.isAnswerable).toBe(false);
  });
});
