import type { EventEmitter } from 'node:events';

/** The subset of a `ws` WebSocket (v7 or v8) the heartbeat needs, plus the README's flag. */
interface PingableSocket extends EventEmitter {
  ping(): void;
  terminate(): void;
}

type Tracked = PingableSocket & { isAlive?: boolean };

interface HeartbeatServer<TSocket extends PingableSocket> extends EventEmitter {
  readonly clients: Set<TSocket>;
}

function onPong(this: Tracked): void {
  this.isAlive = true;
}

/**
 * The heartbeat from ws's README, for the peers without one of their own: ping every client each
 * interval, terminate those that did not pong since the last one. Returns a function that stops it.
 */
export function startWsHeartbeat<TSocket extends PingableSocket>(
  wss: HeartbeatServer<TSocket>,
  intervalMs = 30_000,
): () => void {
  wss.on('connection', (ws: Tracked) => {
    ws.isAlive = true;
    ws.on('pong', onPong);
  });
  const timer = setInterval(() => {
    for (const ws of wss.clients as Set<Tracked>) {
      if (ws.isAlive === false) {
        ws.terminate();
        continue;
      }
      ws.isAlive = false;
      ws.ping();
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
