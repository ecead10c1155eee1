import type { Socket } from 'node:net';
import type { ClientCommands } from '../harness/protocol.js';
import { serveRpc } from '../harness/rpc.js';
import { runChurn } from './churn-job.js';
import type { BenchConnection } from './connection.js';
import { ConnectionSet, type MessageHandler } from './connection-set.js';
import { EchoJob } from './echo-job.js';
import { FanoutJob } from './fanout-job.js';
import { PingJob } from './ping-job.js';
import { openStalledSocket } from './stalled-socket.js';

// A client process: holds connections and runs the client side of a scenario on command.

const connections = new ConnectionSet();
const echo = new EchoJob();
const fanout = new FanoutJob();
const ping = new PingJob();
const healthy = new ConnectionSet();
let stalled: Socket | undefined;

const ignore: MessageHandler = () => {};

serveRpc<ClientCommands>(
  {
    open: async ({ target, path, count, raw }) => {
      const handler =
        path === '/room'
          ? () => fanout.createHandler()
          : path === '/echo'
            ? () => echo.onMessage
            : () => ignore;
      const opened = await connections.open(target, path, count, handler, raw);
      if (path === '/room') fanout.connections = connections.connections.length;
      return opened;
    },
    exchangeOnce: ({ bytes }) => connections.exchangeOnce(bytes),
    'echo.start': ({ inFlight, messageBytes }) => {
      echo.start(connections.connections, inFlight, messageBytes);
      return null;
    },
    'echo.mark': () => {
      echo.mark();
      return null;
    },
    'echo.stop': () => echo.stop(),
    'fanout.record': ({ on }) => {
      fanout.record(on);
      return null;
    },
    'fanout.results': () => fanout.results(),
    'churn.run': ({ target, total, concurrency, timeoutMs }) =>
      runChurn(target, total, concurrency, timeoutMs),
    'slow.open': async ({ target }) => {
      stalled = await openStalledSocket(target);
      if ((await healthy.open(target, '/echo', 1, () => ping.onMessage)) !== 1) {
        throw new Error('the healthy client could not connect');
      }
      return null;
    },
    'slow.ping': ({ durationMs, maxRoundTrips }) =>
      ping.run(healthy.connections[0] as BenchConnection, durationMs, maxRoundTrips),
    closeAll: async () => {
      stalled?.destroy();
      stalled = undefined;
      await Promise.all([connections.closeAll(), healthy.closeAll()]);
      fanout.reset();
      return null;
    },
  },
  { pid: process.pid },
);
