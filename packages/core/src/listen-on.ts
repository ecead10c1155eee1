import type { Server } from 'node:http';

/** `server.listen` as a promise that rejects on a listen error (EADDRINUSE, EACCES). */
export function listenOn(server: Server, port = 0, host?: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
