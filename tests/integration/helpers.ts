import type { Server } from 'node:http';
import { type Hub, isWslaneError } from '@wslane/core';
import { connect, type TestClient, type TestServer, withTimeout } from '@wslane/core/testing';
import { afterEach, expect } from 'vitest';
import { WebSocketServer } from 'ws';

/**
 * For the tests of one file: after each test, closes every hub and test server the test handed
 * to the returned function (hub first), and checks that neither left anything behind.
 */
export function useLaneServers(): (hub: Hub, server: TestServer) => void {
  const running: { hub: Hub; server: TestServer }[] = [];
  afterEach(async () => {
    for (const { hub, server } of running.splice(0)) {
      await hub.close({ timeout: 500 });
      await server.close();
      expect(hub.stats()).toMatchObject({ active: 0, pending: 0, timers: 0 });
      expect(server.server.listening).toBe(false);
    }
  });
  return (hub, server) => {
    running.push({ hub, server });
  };
}

/** `ws://…/path` of a running app as the `http://` URL `fetch` takes. */
export function httpUrl(app: { url(path: string): string }, path: string): string {
  return app.url(path).replace(/^ws:/, 'http:');
}

/**
 * Keeps an echo client busy with round trips, as fast as the loopback allows, for `ms`
 * (round trips, not sleeps, keep the socket in use all along). Each echo is checked; resolves
 * with the number of round trips.
 */
export async function keepBusy(client: TestClient, ms: number): Promise<number> {
  const startedAt = Date.now();
  let trips = 0;
  while (Date.now() - startedAt < ms) {
    client.ws.send(`trip${trips}`);
    expect(await client.next()).toBe(`trip${trips}`);
    trips++;
  }
  return trips;
}

/** A second `ws` server on an app's HTTP server, and one client of it. */
export interface OtherWsServer {
  /** A client of the other server, on its path. */
  readonly client: TestClient;
  /**
   * Sends on the other server's client and on `ours` (an echo channel of the app) at once:
   * each must get the answer of its own server.
   */
  expectSideBySide(ours: TestClient): Promise<void>;
  /** Closes the client, then the other server. */
  close(): Promise<void>;
}

/**
 * Mounts a second `ws` server on `app.server`: its own 'upgrade' listener takes the upgrades to
 * `path` and answers every message with `other:<message>`. Connects one client to it.
 */
export async function startOtherWsServer(
  app: { readonly server: Server; url(path: string): string },
  path = '/other',
): Promise<OtherWsServer> {
  const other = new WebSocketServer({ noServer: true });
  other.on('connection', (ws) => ws.on('message', (m) => ws.send(`other:${String(m)}`)));
  app.server.on('upgrade', (req, socket, head) => {
    if (req.url !== path) return;
    other.handleUpgrade(req, socket, head, (ws) => other.emit('connection', ws, req));
  });
  const closeServer = () =>
    withTimeout(new Promise((resolve) => other.close(resolve)), 2000, 'other ws server');
  let client: TestClient;
  try {
    client = await connect(app.url(path));
  } catch (error) {
    await closeServer();
    throw error;
  }
  return {
    client,
    async expectSideBySide(ours) {
      client.ws.send('a');
      ours.ws.send('b');
      expect(await client.next()).toBe('other:a');
      expect(await ours.next()).toBe('b');
    },
    async close() {
      await client.close();
      await closeServer();
    },
  };
}

/** What `action` throws; `undefined` when it returns. */
export function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** The code of the wslane error `action` throws; else what it throws (`undefined`: nothing). */
export function wslaneErrorCodeOf(action: () => unknown): unknown {
  const thrown = thrownBy(action);
  return isWslaneError(thrown) ? thrown.code : thrown;
}
