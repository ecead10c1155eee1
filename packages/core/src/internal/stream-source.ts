/** One frame of a streamed message. */
export type StreamChunk = Buffer | Uint8Array | string;

/** Pulls chunks from a sync or async iterable through one interface. */
export function toStreamIterator(
  source: Iterable<StreamChunk> | AsyncIterable<StreamChunk>,
): Iterator<StreamChunk> | AsyncIterator<StreamChunk> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  return source[Symbol.iterator]();
}

/** A chunk as the socket takes it, without copying its bytes. */
export function toStreamPayload(chunk: StreamChunk): Buffer | string {
  if (typeof chunk === 'string' || Buffer.isBuffer(chunk)) return chunk;
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
