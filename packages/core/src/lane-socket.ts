/** The parts of a `ws` WebSocket the lane writes through. */
export interface LaneSocket {
  /** Bytes handed to the socket and not yet flushed to the kernel. */
  readonly bufferedAmount: number;
  send(data: Buffer | string, options: SendFrameOptions, cb: (error?: Error) => void): void;
}

/** Frame flags for {@link LaneSocket.send}. */
export interface SendFrameOptions {
  readonly binary: boolean;
  readonly fin: boolean;
  readonly compress: boolean;
}

/** Something that can hold writes back and flush them as one (a `net.Socket`). */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

const FRAME_OPTIONS: readonly SendFrameOptions[] = [
  { binary: false, fin: false, compress: false },
  { binary: false, fin: true, compress: false },
  { binary: true, fin: false, compress: false },
  { binary: true, fin: true, compress: false },
];

/** Shared flag objects, so a write allocates no options object. */
export function frameOptions(binary: boolean, fin: boolean): SendFrameOptions {
  return FRAME_OPTIONS[(binary ? 2 : 0) + (fin ? 1 : 0)] as SendFrameOptions;
}
