/** One frame the server wrote, as a test sees it on the wire. */
export interface WireFrame {
  readonly fin: boolean;
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Close frames, with their code, among `frames`. */
export function closeFramesOf(frames: readonly WireFrame[]): { code: number; reason: string }[] {
  return frames
    .filter((frame) => frame.opcode === 0x8)
    .map((frame) => ({
      code: frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005,
      reason: frame.payload.subarray(2).toString('utf8'),
    }));
}

/**
 * Parses what a server wrote on one connection (recorded by the proxy): the HTTP 101 head, then
 * unmasked frames. A trailing incomplete frame is left out.
 */
export function parseServerFrames(stream: Buffer): WireFrame[] {
  const headEnd = stream.indexOf('\r\n\r\n');
  if (headEnd === -1) return [];
  const frames: WireFrame[] = [];
  let offset = headEnd + 4;
  while (offset + 2 <= stream.length) {
    const first = stream[offset] as number;
    const second = stream[offset + 1] as number;
    let length = second & 0x7f;
    let header = 2;
    if (length === 126) {
      if (offset + 4 > stream.length) break;
      length = stream.readUInt16BE(offset + 2);
      header = 4;
    } else if (length === 127) {
      if (offset + 10 > stream.length) break;
      length = Number(stream.readBigUInt64BE(offset + 2));
      header = 10;
    }
    if ((second & 0x80) !== 0) header += 4;
    if (offset + header + length > stream.length) break;
    frames.push({
      fin: (first & 0x80) !== 0,
      opcode: first & 0x0f,
      payload: stream.subarray(offset + header, offset + header + length),
    });
    offset += header + length;
  }
  return frames;
}
