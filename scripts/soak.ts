/**
 * Soak: churns many connections through a wslane server in a child process and prints the
 * server's heap after forced GC at the start, every `--every` connections and at the end. A heap
 * that keeps growing with the connection count is a leak. Opt-in (not part of CI):
 *
 *   npm run soak -- [--connections 100000] [--batch 500] [--every 10000]
 *
 * Each connection opens, sends one message, waits for its echo, then ends one of four ways:
 * the client closes, the client terminates (no close frame), the server closes, or the server
 * terminates. Clients spread over 127.0.0.2-127.0.0.33 so TIME_WAIT never exhausts ports.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';

interface HeapReport {
  readonly heapUsed: number;
  readonly rss: number;
  readonly active: number;
  readonly pending: number;
  readonly created: number;
  readonly released: number;
  readonly timers: number;
}

type ServerRequest = { type: 'heap' } | { type: 'stop' };
type ServerMessage = { type: 'ready'; port: number } | ({ type: 'heap' } & HeapReport);

async function runServer(): Promise<void> {
  const { createHub, createRoute } = await import('@wslane/core');
  const hub = createHub({ limits: { maxConnectionsPerIp: 0, maxConnections: 0 } });
  const route = createRoute({
    name: 'soak',
    onMessage: (message, channel) => {
      const text = String(message);
      if (text === 'close') void channel.close(1000, 'bye');
      else if (text === 'terminate') channel.terminate();
      else channel.trySend(message);
    },
  });
  const server = createServer((_req, res) => res.writeHead(404).end());
  hub.attach(server, { '/soak': route });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const send = (message: ServerMessage): void => {
    process.send?.(message);
  };
  process.on('message', async (request: ServerRequest) => {
    if (request.type === 'heap') {
      await settleHeap();
      const { heapUsed, rss } = process.memoryUsage();
      const { active, pending, created, released, timers } = hub.stats();
      send({ type: 'heap', heapUsed, rss, active, pending, created, released, timers });
    } else {
      await hub.close({ timeout: 1000 });
      server.close();
      process.disconnect();
    }
  });
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
}

/** Two GC passes with a macrotask between them, so finalizers and weak refs settle. */
async function settleHeap(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 2; i++) {
    gc();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

function request(child: ChildProcess, message: ServerRequest): Promise<ServerMessage> {
  child.send(message);
  return once(child, 'message').then(([reply]) => reply as ServerMessage);
}

const ENDINGS = ['client-close', 'client-terminate', 'server-close', 'server-terminate'] as const;

/** One connection's life: open, echo, end. Resolves once the client saw the socket close. */
async function churnOne(port: number, n: number): Promise<void> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/soak`, {
    localAddress: `127.0.0.${2 + (n % 32)}`,
  });
  ws.on('error', () => {});
  const closed = once(ws, 'close');
  await once(ws, 'open');
  ws.send(`hello ${n}`);
  await once(ws, 'message');
  const ending = ENDINGS[n % ENDINGS.length];
  if (ending === 'client-close') ws.close(1000);
  else if (ending === 'client-terminate') ws.terminate();
  else ws.send(ending === 'server-close' ? 'close' : 'terminate');
  await closed;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

async function runClients(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '100000' },
      batch: { type: 'string', default: '500' },
      every: { type: 'string', default: '10000' },
    },
  });
  const total = Number(values.connections);
  const batch = Number(values.batch);
  const every = Number(values.every);
  const child = fork(fileURLToPath(import.meta.url), ['--server'], {
    execArgv: process.execArgv,
  });
  const [ready] = (await once(child, 'message')) as [ServerMessage];
  if (ready.type !== 'ready') throw new Error('server did not start');
  const started = Date.now();
  const report = async (done: number): Promise<HeapReport> => {
    const heap = (await request(child, { type: 'heap' })) as HeapReport;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(
      `${String(done).padStart(7)} connections  heap ${mib(heap.heapUsed).padStart(10)}  ` +
        `rss ${mib(heap.rss).padStart(10)}  active ${heap.active}  pending ${heap.pending}  ` +
        `created ${heap.created}  released ${heap.released}  timers ${heap.timers}  ${seconds}s`,
    );
    return heap;
  };
  const first = await report(0);
  let done = 0;
  let last = first;
  let warm: HeapReport | undefined;
  while (done < total) {
    const size = Math.min(batch, total - done);
    const results = await Promise.allSettled(
      Array.from({ length: size }, (_, i) => churnOne(ready.port, done + i)),
    );
    const failed = results.filter((result) => result.status === 'rejected');
    if (failed.length > 0) {
      console.error(`${failed.length} connections failed in batch at ${done}`, failed[0]);
    }
    done += size;
    if (done % every === 0 || done === total) {
      last = await report(done);
      // The first checkpoint includes one-time costs (JIT, pools): growth is measured after it.
      warm ??= { ...last, created: done };
    }
  }
  console.log(`heap growth from start: ${mib(last.heapUsed - first.heapUsed)}`);
  if (warm !== undefined && total > warm.created) {
    const growth = last.heapUsed - warm.heapUsed;
    console.log(
      `heap growth after the first ${warm.created} connections: ${mib(growth)} over ` +
        `${total - warm.created} connections (${(growth / (total - warm.created)).toFixed(2)} bytes each)`,
    );
  }
  child.send({ type: 'stop' } satisfies ServerRequest);
  await once(child, 'exit');
  if (last.active !== 0 || last.pending !== 0 || last.timers !== 0) process.exitCode = 1;
}

if (process.argv.includes('--server')) await runServer();
else await runClients();
