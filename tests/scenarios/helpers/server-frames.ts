import { closeCodeOf, decodeFrame, frameSize, OP, type WireFrame } from './wire-frames.js';

/** Close frames, with their code, among `frames`. */
export function closeFramesOf(frames: readonly WireFrame[]): { code: number; reason: string }[] {
  return frames
    .filter((frame) => frame.opcode === OP.close)
    .map((frame) => ({
      code: closeCodeOf(frame),
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
  let rest = stream.subarray(headEnd + 4);
  for (;;) {
    const size = frameSize(rest);
    if (size === undefined || rest.length < size) return frames;
    frames.push(decodeFrame(rest.subarray(0, size)));
    rest = rest.subarray(size);
  }
}
