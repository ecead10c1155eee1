import type { HistogramData } from '../report/histogram.js';

/** How clients speak to a target: plain WebSocket, or socket.io's own client. */
export type ClientProtocol = 'ws' | 'socket.io';

/** Paths every target serves: echo, the fan-out room, and the flood route of slow-consumer. */
export type TargetPath = '/echo' | '/room' | '/flood';

/** Where a client connects. */
export interface ClientTarget {
  readonly protocol: ClientProtocol;
  readonly port: number;
}

/** What the server process says once it listens. */
export interface ServerReady {
  readonly port: number;
}

/** CPU time and memory of the server process. */
export interface ServerUsage {
  /** user + system CPU time since start, µs (`process.cpuUsage()`). */
  readonly cpuMicros: number;
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export interface FloodArgs {
  readonly durationMs: number;
  readonly messageBytes: number;
  /** Safety stop: the flood ends early once the server's RSS passes this. */
  readonly maxRssBytes: number;
}

export interface FloodResult {
  readonly connections: number;
  readonly sent: number;
  readonly startRss: number;
  readonly peakRss: number;
  /** The flood hit `maxRssBytes` and stopped early. */
  readonly capped: boolean;
}

/** Commands of a server process. */
export type ServerCommands = {
  usage: { args: null; result: ServerUsage };
  /** Full GC (a few passes), then usage. */
  gc: { args: null; result: ServerUsage };
  /** Allocates and drops `megabytes` of small objects (every young-generation page touched), then GC. */
  churnHeap: { args: { megabytes: number }; result: ServerUsage };
  /** One 256-byte message (seq, send time) to every member of the fan-out room. */
  broadcast: { args: { seq: number }; result: null };
  roomSize: { args: null; result: number };
  openConnections: { args: null; result: number };
  floodConnections: { args: null; result: number };
  flood: { args: FloodArgs; result: FloodResult };
  /** Bookkeeping left in the server: the target's own counts, handles, listeners. */
  inspect: { args: null; result: Record<string, number> };
};

/** Round trips measured by an echo client between `mark` and `stop`. */
export interface EchoResult {
  readonly roundTrips: number;
  readonly elapsedMicros: number;
  /** CPU time of the client process over the same window, µs. */
  readonly clientCpuMicros: number;
  readonly latency: HistogramData;
}

export interface FanoutResult {
  readonly received: number;
  readonly missed: number;
  readonly latency: HistogramData;
}

/** One fan-out round reached every connection of one client process. */
export interface FanoutRoundEvent {
  readonly seq: number;
  readonly sentAt: number;
  readonly lastAt: number;
}

export interface ChurnResult {
  readonly opened: number;
  readonly failed: number;
  readonly elapsedMicros: number;
}

export interface PingResult {
  readonly roundTrips: number;
  readonly latency: HistogramData;
}

/** Commands of a client process. */
export type ClientCommands = {
  /**
   * Opens `count` connections to `path`; resolves how many opened. `raw` connections (a minimal
   * client on a TCP socket) can only be held and closed.
   */
  open: {
    args: { target: ClientTarget; path: TargetPath; count: number; raw?: boolean };
    result: number;
  };
  'echo.start': { args: { inFlight: number; messageBytes: number }; result: null };
  'echo.mark': { args: null; result: null };
  /** Stops sending, waits for the messages in flight, returns what was measured since mark. */
  'echo.stop': { args: null; result: EchoResult };
  /** Starts (and resets) or stops recording fan-out latencies. */
  'fanout.record': { args: { on: boolean }; result: null };
  'fanout.results': { args: null; result: FanoutResult };
  'churn.run': {
    args: { target: ClientTarget; total: number; concurrency: number; timeoutMs: number };
    result: ChurnResult;
  };
  /** Opens a connection to /flood that never reads. */
  'slow.open': { args: { target: ClientTarget }; result: null };
  /** One healthy connection doing sequential 64-byte round trips on /echo. */
  'slow.ping': { args: { durationMs: number; maxRoundTrips: number }; result: PingResult };
  /** Each raw connection trades one message of `bytes` with /echo; resolves how many did. */
  exchangeOnce: { args: { bytes: number }; result: number };
  closeAll: { args: null; result: null };
};
