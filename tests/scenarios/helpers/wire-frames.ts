/** WebSocket opcodes (RFC 6455 §5.2). */
export const OP = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

/** One frame as the server wrote it. */
export interface WireFrame {
  readonly fin: boolean;
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly payload: Buffer;
}

/** One data message reassembled from recorded frames. */
export interface WireMessage {
  readonly opcode: number;
  readonly payload: Buffer;
  /** Index of its first and last frame in the recording. */
  readonly first: number;
  readonly last: number;
  readonly frames: number;
}

/** The frame's header fields that say how long it is. */
function readHeader(
  bytes: Buffer,
): { masked: boolean; length: number; headerSize: number } | undefined {
  if (bytes.length < 2) return undefined;
  const b1 = bytes[1] as number;
  const masked = (b1 & 0x80) !== 0;
  const code = b1 & 0x7f;
  if (code < 126) return { masked, length: code, headerSize: 2 };
  if (code === 126) {
    return bytes.length < 4 ? undefined : { masked, length: bytes.readUInt16BE(2), headerSize: 4 };
  }
  if (bytes.length < 10) return undefined;
  const length = bytes.readUInt32BE(2) * 2 ** 32 + bytes.readUInt32BE(6);
  return { masked, length, headerSize: 10 };
}

/**
 * The byte size of the frame at the start of `bytes`, known once its header is there (14 bytes
 * at most), so a reader knows how much to wait for before {@link decodeFrame}.
 */
export function frameSize(bytes: Buffer): number | undefined {
  const header = readHeader(bytes);
  if (header === undefined) return undefined;
  return header.headerSize + (header.masked ? 4 : 0) + header.length;
}

/** Decodes the frame at the start of `bytes`, which holds all of it (see {@link frameSize}). */
export function decodeFrame(bytes: Buffer): WireFrame {
  const header = readHeader(bytes);
  if (header === undefined) throw new Error('decodeFrame needs a whole frame header');
  const { masked, length, headerSize } = header;
  const offset = headerSize + (masked ? 4 : 0);
  const payload = Buffer.from(bytes.subarray(offset, offset + length));
  if (masked) {
    for (let i = 0; i < payload.length; i++) {
      payload[i] = (payload[i] as number) ^ (bytes[headerSize + (i & 3)] as number);
    }
  }
  const b0 = bytes[0] as number;
  return { fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 0x7, opcode: b0 & 0x0f, masked, payload };
}

/** The code of a close frame (1005 when it has none). */
export function closeCodeOf(frame: WireFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}

/**
 * Walks recorded frames the way a peer must read them (RFC 6455 §5.4, §5.5.1) and returns the
 * data messages. Throws when a data frame lands inside a fragmented message, a continuation has
 * no message to continue, or anything follows the close frame.
 */
export function toMessages(frames: readonly WireFrame[]): WireMessage[] {
  const messages: WireMessage[] = [];
  let open: { opcode: number; parts: Buffer[]; first: number } | undefined;
  let closedAt = -1;
  frames.forEach((frame, index) => {
    if (closedAt >= 0) throw new Error(`frame ${index} (opcode ${frame.opcode}) after close`);
    if (frame.opcode === OP.close) {
      closedAt = index;
      return;
    }
    if (frame.opcode >= 0x8) return;
    if (frame.opcode === OP.continuation) {
      if (open === undefined) throw new Error(`continuation frame ${index} outside a message`);
      open.parts.push(frame.payload);
    } else {
      if (open !== undefined) {
        throw new Error(`data frame ${index} inside the message started at frame ${open.first}`);
      }
      open = { opcode: frame.opcode, parts: [frame.payload], first: index };
    }
    if (frame.fin) {
      messages.push({
        opcode: open.opcode,
        payload: Buffer.concat(open.parts),
        first: open.first,
        last: index,
        frames: open.parts.length,
      });
      open = undefined;
    }
  });
  return messages;
}
