import { connect as connectTcp, createServer, type Server, type Socket } from 'node:net';
import { withTimeout } from '@wslane/core/testing';
import { afterEach } from 'vitest';

// The proxy runs on real time even while a test fakes the global timers: its throttle and idle
// cut stand for the network, which fake time does not slow down.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;
const realNow = performance.now.bind(performance);

/** `up`: client → server; `down`: server → client. */
export type Direction = 'up' | 'down';

/**
 * What a direction does with the bytes it reads:
 * - `forward`: passes them on (at `bytesPerSecond` when throttled);
 * - `pause`: stops reading, so the sender's kernel buffers fill (TCP backpressure, no loss);
 * - `black-hole`: reads and discards them, and never passes on a FIN or reset (a dead peer
 *   behind a middlebox that still takes the bytes).
 */
export type FlowMode = 'forward' | 'pause' | 'black-hole';

/** Options of {@link startBlackHoleProxy}. */
export interface ProxyOptions {
  /**
   * Once no byte crossed a link in either direction for this long, the link is cut like a NAT
   * forgetting its mapping: both directions black-holed (or both sockets destroyed).
   */
  readonly idleCutMs?: number;
  /** @default 'black-hole' */
  readonly idleCut?: 'black-hole' | 'destroy';
}

/** Time slice of a throttled direction: it writes at most rate × slice bytes at a time. */
const THROTTLE_SLICE_MS = 20;

/** One direction of a link: reads from `source`, writes to `target`. */
class Pump {
  mode: FlowMode = 'forward';
  bytesPerSecond = 0;
  /** Bytes read from the source (forwarded or swallowed). */
  bytes = 0;
  readonly recorded: Buffer[] = [];
  #pending: Buffer[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #waitingForDrain = false;
  readonly #source: Socket;
  readonly #target: Socket;
  readonly #onActivity: () => void;

  constructor(source: Socket, target: Socket, onActivity: () => void) {
    this.#source = source;
    this.#target = target;
    this.#onActivity = onActivity;
    source.on('data', (chunk: Buffer) => this.#onData(chunk));
    source.on('end', () => this.#onEnd());
    this.#pump();
  }

  set(mode: FlowMode, bytesPerSecond = this.bytesPerSecond): void {
    this.mode = mode;
    this.bytesPerSecond = bytesPerSecond;
    if (mode === 'black-hole') this.#pending = [];
    this.#pump();
  }

  stop(): void {
    if (this.#timer !== undefined) realClearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onData(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.recorded.push(chunk);
    if (this.mode === 'black-hole') return;
    this.#onActivity();
    this.#pending.push(chunk);
    this.#pump();
  }

  #onEnd(): void {
    // A FIN crosses only a forwarding direction, after the bytes before it.
    if (this.mode === 'forward' && this.#pending.length === 0) this.#target.end();
  }

  #pump(): void {
    while (
      this.mode === 'forward' &&
      this.#pending.length > 0 &&
      this.#timer === undefined &&
      !this.#waitingForDrain &&
      !this.#target.destroyed
    ) {
      const chunk = this.#take();
      const flushed = this.#target.write(chunk);
      if (this.bytesPerSecond > 0) {
        const delay = Math.max(1, Math.round((chunk.length * 1000) / this.bytesPerSecond));
        this.#timer = realSetTimeout(() => {
          this.#timer = undefined;
          this.#pump();
        }, delay);
      }
      if (!flushed) {
        this.#waitingForDrain = true;
        this.#target.once('drain', () => {
          this.#waitingForDrain = false;
          this.#pump();
        });
      }
    }
    if (this.mode === 'forward' && this.#pending.length === 0 && this.#source.readableEnded) {
      this.#target.end();
    }
    const reading =
      this.mode === 'black-hole' || (this.mode === 'forward' && this.#pending.length === 0);
    if (reading) this.#source.resume();
    else this.#source.pause();
  }

  /** The next piece to write: all that is pending, or one time slice's worth when throttled. */
  #take(): Buffer {
    const first = this.#pending[0] as Buffer;
    const slice = Math.max(1, Math.floor((this.bytesPerSecond * THROTTLE_SLICE_MS) / 1000));
    if (this.bytesPerSecond > 0 && first.length > slice) {
      this.#pending[0] = first.subarray(slice);
      return first.subarray(0, slice);
    }
    this.#pending.shift();
    return first;
  }
}

/** One proxied TCP connection: the client's socket, the socket to the server, and the pumps. */
export class ProxyLink {
  readonly client: Socket;
  readonly upstream: Socket;
  readonly closed: Promise<void>;
  readonly #pumps: Record<Direction, Pump>;
  #lastActivityAt = realNow();

  constructor(client: Socket, upstream: Socket) {
    this.client = client;
    this.upstream = upstream;
    const touch = (): void => {
      this.#lastActivityAt = realNow();
    };
    this.#pumps = {
      up: new Pump(client, upstream, touch),
      down: new Pump(upstream, client, touch),
    };
    this.closed = new Promise((resolve) => {
      let open = 2;
      const onClose = (): void => {
        open--;
        if (open === 0) {
          this.#pumps.up.stop();
          this.#pumps.down.stop();
          resolve();
        }
      };
      client.once('close', onClose);
      upstream.once('close', onClose);
    });
    client.on('error', () => this.#onError('up'));
    upstream.on('error', () => this.#onError('down'));
  }

  /** Bytes read so far in each direction (forwarded or swallowed). */
  get bytes(): Record<Direction, number> {
    return { up: this.#pumps.up.bytes, down: this.#pumps.down.bytes };
  }

  /** Everything read in `direction` so far, including what a black hole swallowed. */
  recorded(direction: Direction): Buffer {
    return Buffer.concat(this.#pumps[direction].recorded);
  }

  /** ms since a byte last crossed the link. */
  get idleMs(): number {
    return realNow() - this.#lastActivityAt;
  }

  mode(direction: Direction): FlowMode {
    return this.#pumps[direction].mode;
  }

  /** Stops reading: the sender's kernel buffers fill up, nothing is lost. */
  pause(direction: Direction | 'both' = 'both'): void {
    this.#set(direction, 'pause');
  }

  /** Reads and discards: the bytes vanish, no FIN or reset ever crosses. */
  blackHole(direction: Direction | 'both' = 'both'): void {
    this.#set(direction, 'black-hole');
  }

  /** Forwards again, unthrottled. */
  forward(direction: Direction | 'both' = 'both'): void {
    this.#set(direction, 'forward', 0);
  }

  /** Forwards at most `bytesPerSecond` in `direction`. */
  throttle(direction: Direction, bytesPerSecond: number): void {
    this.#pumps[direction].set('forward', bytesPerSecond);
  }

  /** Destroys both sockets (both peers see the connection drop). */
  destroy(): void {
    this.client.destroy();
    this.upstream.destroy();
  }

  #set(direction: Direction | 'both', mode: FlowMode, bytesPerSecond?: number): void {
    for (const name of direction === 'both' ? (['up', 'down'] as const) : [direction]) {
      this.#pumps[name].set(mode, bytesPerSecond);
    }
  }

  #onError(from: Direction): void {
    // A reset crosses only while that direction forwards; a black hole keeps the other side open.
    const other = from === 'up' ? this.upstream : this.client;
    if (this.#pumps[from].mode === 'forward') other.destroy();
  }
}

/** A TCP proxy on 127.0.0.1 in front of one server, with every connection under test control. */
export interface BlackHoleProxy {
  readonly port: number;
  /** `ws://127.0.0.1:<proxy port><path>` */
  url(path: string): string;
  readonly links: readonly ProxyLink[];
  /** The `n`-th connection (0-based), waiting for it if needed. */
  link(n?: number): Promise<ProxyLink>;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

/** Starts a proxy in front of `target` (a `ws://host:port/...` URL or a port on 127.0.0.1). */
export async function startBlackHoleProxy(
  target: string | number,
  options: ProxyOptions = {},
): Promise<BlackHoleProxy> {
  const { hostname, port: targetPort } =
    typeof target === 'number' ? { hostname: '127.0.0.1', port: String(target) } : new URL(target);
  const links: ProxyLink[] = [];
  const waiters = new Set<() => void>();
  const server: Server = createServer((client) => {
    client.pause();
    const upstream = connectTcp(Number(targetPort), hostname);
    upstream.pause();
    const link = new ProxyLink(client, upstream);
    links.push(link);
    for (const wake of [...waiters]) wake();
  });
  let idleTimer: ReturnType<typeof setInterval> | undefined;
  const { idleCutMs } = options;
  if (idleCutMs !== undefined) {
    const cut = new WeakSet<ProxyLink>();
    idleTimer = realSetInterval(
      () => {
        for (const link of links) {
          if (cut.has(link) || link.idleMs < idleCutMs) continue;
          cut.add(link);
          if (options.idleCut === 'destroy') link.destroy();
          else link.blackHole();
        }
      },
      Math.max(1, Math.floor(idleCutMs / 10)),
    );
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    links,
    async link(n = 0) {
      while (links.length <= n) {
        let wake: () => void = () => {};
        await withTimeout(
          new Promise<void>((resolve) => {
            wake = resolve;
            waiters.add(resolve);
          }),
          2000,
          `proxy link ${n}`,
        ).finally(() => waiters.delete(wake));
      }
      return links[n] as ProxyLink;
    },
    async close() {
      if (idleTimer !== undefined) realClearInterval(idleTimer);
      for (const link of links) link.destroy();
      await Promise.all(links.map((link) => link.closed));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Per test file: starts proxies like {@link startBlackHoleProxy} and closes every one of them
 * after each test.
 */
export function useBlackHoleProxies(): (
  target: string | number,
  options?: ProxyOptions,
) => Promise<BlackHoleProxy> {
  const proxies: BlackHoleProxy[] = [];
  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });
  return async (target, options) => {
    const proxy = await startBlackHoleProxy(target, options);
    proxies.push(proxy);
    return proxy;
  };
}
