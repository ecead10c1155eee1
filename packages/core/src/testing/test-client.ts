import { once } from 'node:events';
import WebSocket from 'ws';
import { withTimeout } from './with-timeout.js';

/** One received message: text as a string, binary as a Buffer. */
export type Received = string | Buffer;

/** A `ws` client for tests, with a message queue: `await client.next()` instead of sleeping. */
export class TestClient {
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Headers of the 101 response, once the handshake is done. */
  upgradeHeaders: Readonly<Record<string, string | string[] | undefined>> = {};
  readonly #queue: Received[] = [];
  #waiter: (() => void) | undefined;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.once('upgrade', (response) => {
      this.upgradeHeaders = response.headers;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.#queue.push(isBinary ? data : data.toString('utf8'));
      const waiter = this.#waiter;
      this.#waiter = undefined;
      waiter?.();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString() });
        const waiter = this.#waiter;
        this.#waiter = undefined;
        waiter?.();
      });
    });
  }

  /** Messages received and not yet taken. */
  get buffered(): number {
    return this.#queue.length;
  }

  /** The next message, waiting at most `ms`. */
  async next(ms = 2000): Promise<Received> {
    while (this.#queue.length === 0) {
      if (this.ws.readyState === WebSocket.CLOSED)
        throw new Error('closed while waiting for a message');
      await withTimeout(
        new Promise<void>((resolve) => {
          this.#waiter = resolve;
        }),
        ms,
        'next message',
      );
    }
    return this.#queue.shift() as Received;
  }

  /** The next `count` messages, in order. */
  async take(count: number, ms = 5000): Promise<Received[]> {
    const out: Received[] = [];
    const deadline = Date.now() + ms;
    while (out.length < count) out.push(await this.next(Math.max(1, deadline - Date.now())));
    return out;
  }

  async nextJson<T = unknown>(ms?: number): Promise<T> {
    return JSON.parse(String(await this.next(ms))) as T;
  }

  /** Resolves with the close code and reason, waiting at most `ms`. */
  waitClosed(ms = 2000): Promise<{ code: number; reason: string }> {
    return withTimeout(this.closed, ms, 'client close');
  }

  close(): Promise<{ code: number; reason: string }> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close();
    else if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    return this.waitClosed();
  }
}

/** Options of a test client: `ws` client options plus the subprotocols to offer. */
export type TestClientOptions = WebSocket.ClientOptions & { protocols?: string[] };

/** Opens a client and waits for the handshake. */
export async function connect(url: string, options: TestClientOptions = {}): Promise<TestClient> {
  const ws = new WebSocket(url, options.protocols ?? [], options);
  const client = new TestClient(ws);
  await withTimeout(
    Promise.race([
      once(ws, 'open'),
      once(ws, 'unexpected-response').then(([, res]) => {
        throw new Error(`upgrade refused with ${(res as { statusCode: number }).statusCode}`);
      }),
      once(ws, 'error').then(([error]) => {
        throw error;
      }),
    ]),
    2000,
    `connect ${url}`,
  );
  return client;
}

/** Tries an upgrade that should be refused; resolves the HTTP status and headers. */
export async function expectRefusal(
  url: string,
  options: TestClientOptions = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }> {
  const ws = new WebSocket(url, options.protocols ?? [], options);
  ws.on('error', () => {});
  const [, res] = await withTimeout(once(ws, 'unexpected-response'), 2000, `refusal ${url}`);
  const response = res as {
    statusCode: number;
    headers: Record<string, string | string[] | undefined>;
    destroy(): void;
  };
  response.destroy();
  ws.terminate();
  return { status: response.statusCode, headers: response.headers };
}
