import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';

/** Commands a child answers: name → argument and result types. */
export type RpcSchema = Record<string, { args: unknown; result: unknown }>;

/** Handlers of a child, one per command of its schema. */
export type RpcHandlers<TSchema extends RpcSchema> = {
  [K in keyof TSchema]: (
    args: TSchema[K]['args'],
  ) => TSchema[K]['result'] | Promise<TSchema[K]['result']>;
};

interface RpcRequest {
  readonly id: number;
  readonly cmd: string;
  readonly args: unknown;
}

type RpcMessage =
  | { readonly kind: 'ready'; readonly data: unknown }
  | { readonly kind: 'result'; readonly id: number; readonly result: unknown }
  | { readonly kind: 'error'; readonly id: number; readonly message: string }
  | { readonly kind: 'event'; readonly name: string; readonly data: unknown };

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/** Options of {@link RpcChild.start}. */
export interface RpcChildOptions {
  /** Extra node flags (e.g. `--expose-gc`). */
  readonly nodeFlags?: readonly string[];
  /** @default 30000 */
  readonly readyTimeoutMs?: number;
}

const STOP_GRACE_MS = 3_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const TSX_LOADER = import.meta.resolve('tsx');

/**
 * A TypeScript child process (run through tsx) that answers typed commands over IPC. Stopped by
 * its pid: SIGTERM, then SIGKILL after a grace period.
 *
 * Children load the wslane packages from their build (`dist/`), never from `src/` through tsx:
 * tsx compiles with esbuild's `keepNames`, which gives every closure its own property dictionary,
 * and that would be measured as wslane's memory and CPU.
 */
export class RpcChild<TSchema extends RpcSchema, TReady = unknown> {
  readonly pid: number;
  readonly ready: TReady;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  readonly #listeners = new Map<string, (data: unknown) => void>();
  #nextId = 1;
  #exited = false;

  private constructor(child: ChildProcess, ready: TReady) {
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.ready = ready;
    child.on('message', (message: RpcMessage) => this.#onMessage(message));
    child.once('exit', (code, signal) => {
      this.#exited = true;
      const error = new Error(`child ${this.pid} exited (${signal ?? code})`);
      for (const pending of this.#pending.values()) {
        clearTimeout(pending.timer);
        pending.reject(error);
      }
      this.#pending.clear();
    });
  }

  /** Forks `entry` with `args` and waits for its `ready` message. */
  static async start<TSchema extends RpcSchema, TReady>(
    entry: string,
    args: readonly string[],
    options: RpcChildOptions = {},
  ): Promise<RpcChild<TSchema, TReady>> {
    const child = fork(entry, [...args], {
      execPath: process.execPath,
      execArgv: ['--import', TSX_LOADER, ...(options.nodeFlags ?? [])],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    const ready = await new Promise<TReady>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${entry} not ready within ${readyTimeoutMs} ms`));
      }, readyTimeoutMs);
      const onMessage = (message: RpcMessage): void => {
        if (message.kind !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        resolve(message.data as TReady);
      };
      const onExit = (code: number | null): void => {
        clearTimeout(timer);
        reject(new Error(`${entry} exited with ${code} before it was ready`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return new RpcChild<TSchema, TReady>(child, ready);
  }

  /** Sends one command and resolves its result; rejects on error, exit or timeout. */
  request<K extends keyof TSchema & string>(
    cmd: K,
    args: TSchema[K]['args'],
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ): Promise<TSchema[K]['result']> {
    if (this.#exited) return Promise.reject(new Error(`child ${this.pid} has exited`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${cmd} timed out after ${timeoutMs} ms (child ${this.pid})`));
      }, timeoutMs);
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      const request: RpcRequest = { id, cmd, args };
      this.#child.send(request);
    });
  }

  /** Listens to the child's events of one name (the last listener wins). */
  onEvent<TData>(name: string, listener: (data: TData) => void): void {
    this.#listeners.set(name, listener as (data: unknown) => void);
  }

  /** Stops the child by its pid: SIGTERM, SIGKILL after a grace period; resolves once it exited. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = once(this.#child, 'exit');
    process.kill(this.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      if (!this.#exited) process.kill(this.pid, 'SIGKILL');
    }, STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  /** Kills the child by its pid at once (a server holding gigabytes need not shut down politely). */
  async kill(): Promise<void> {
    if (this.#exited) return;
    const exited = once(this.#child, 'exit');
    process.kill(this.pid, 'SIGKILL');
    await exited;
  }

  #onMessage(message: RpcMessage): void {
    if (message.kind === 'event') {
      this.#listeners.get(message.name)?.(message.data);
      return;
    }
    if (message.kind !== 'result' && message.kind !== 'error') return;
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return;
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.kind === 'result') pending.resolve(message.result);
    else pending.reject(new Error(message.message));
  }
}

/**
 * The child's side: answers commands with `handlers` and tells the parent it is ready. The child
 * exits when the parent goes away or sends SIGTERM.
 */
export function serveRpc<TSchema extends RpcSchema>(
  handlers: RpcHandlers<TSchema>,
  ready: unknown,
): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('serveRpc needs an IPC channel (run it with fork)');
  process.on('message', (request: RpcRequest) => {
    void answer(handlers, request, send);
  });
  process.once('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  send({ kind: 'ready', data: ready } satisfies RpcMessage);
}

/** Sends an event to the parent (no answer expected). */
export function emitEvent(name: string, data: unknown): void {
  process.send?.({ kind: 'event', name, data } satisfies RpcMessage);
}

async function answer<TSchema extends RpcSchema>(
  handlers: RpcHandlers<TSchema>,
  request: RpcRequest,
  send: (message: RpcMessage) => boolean,
): Promise<void> {
  const handler = handlers[request.cmd] as ((args: unknown) => unknown) | undefined;
  try {
    if (handler === undefined) throw new Error(`unknown command ${request.cmd}`);
    const result = await handler(request.args);
    send({ kind: 'result', id: request.id, result });
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    send({ kind: 'error', id: request.id, message });
  }
}
