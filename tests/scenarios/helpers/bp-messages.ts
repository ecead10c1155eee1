import type { RawMessage } from '@wslane/core';

export const KiB = 1024;

/** A numbered binary message of `size` bytes. */
export function message(n: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  bytes.writeUInt32BE(n, 0);
  return bytes;
}

/** The number {@link message} wrote at the start of a received message. */
export const numberOf = (received: RawMessage): number => (received as Buffer).readUInt32BE(0);
