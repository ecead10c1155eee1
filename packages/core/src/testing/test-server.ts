import type { Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { listenOn } from '../listen-on.js';
import { connect, expectRefusal, type TestClient, type TestClientOptions } from './test-client.js';

/** A server listening on 127.0.0.1 and a free port, with clients that need no port. */
export interface TestServer {
  readonly server: Server;
  /** `ws://127.0.0.1:<port><path>` */
  url(path: string): string;
  /** Opens a client on `path` and waits for the handshake. */
  connect(path: string, options?: TestClientOptions): Promise<TestClient>;
  /** Tries an upgrade that should be refused: its HTTP status and headers. */
  expectRefusal(path: string, options?: TestClientOptions): ReturnType<typeof expectRefusal>;
  /** Closes the server and every connection it still has. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1, port 0, so tests never pick ports by hand. The adapters' test helpers
 * build on it: `attach` mounts wslane on the server, and `close()` detaches it again (the hub
 * stays open for the next test server).
 */
export async function listenForTest(
  server: Server,
  attach?: (server: Server) => () => void,
): Promise<TestServer> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  const detach = attach?.(server);
  await listenOn(server, 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  const url = (path: string): string => `ws://127.0.0.1:${port}${path}`;
  return {
    server,
    url,
    connect: (path, options) => connect(url(path), options),
    expectRefusal: (path, options) => expectRefusal(url(path), options),
    close: async () => {
      detach?.();
      server.closeAllConnections();
      // Upgraded sockets are no HTTP connections to Node any more: closeAllConnections skips them.
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
