/** wslane's default `backpressure.maxBufferedBytes` (2 MiB), which every wslane target runs with. */
export const WSLANE_MAX_BUFFERED_BYTES = 2 * 1024 * 1024;
