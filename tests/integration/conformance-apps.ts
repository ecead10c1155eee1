import type { Channel } from '@wslane/core';
import type { TestClient } from '@wslane/core/testing';
import { afterEach, expect } from 'vitest';
import type { ConformanceServer, Harness } from './harness/harness.js';

/** Starts apps of one harness for a test file; see {@link useConformanceApps}. */
export type StartApp = (...args: Parameters<Harness['start']>) => Promise<ConformanceServer>;

/**
 * Starts apps of `harness` for the tests of one `describe` and, after each test, checks that
 * nothing is left behind: no pending upgrade while running, then (after `close()`) no channel, no
 * pending upgrade, no hub timer, and every client the app opened closed by the server.
 * `close()` of a started app is idempotent, so a test may close its app itself.
 */
export function useConformanceApps(harness: Harness): StartApp {
  const running: { app: ConformanceServer; clients: TestClient[] }[] = [];
  afterEach(async () => {
    const apps = running.splice(0);
    for (const { app } of apps) await expect.poll(() => app.hub.stats().pending).toBe(0);
    await Promise.all(apps.map(({ app }) => app.close()));
    for (const { app, clients } of apps) {
      expect(app.hub.stats()).toMatchObject({ state: 'closed', active: 0, pending: 0, timers: 0 });
      expect(app.server.listening).toBe(false);
      // The hub owns every socket it upgraded: closing it leaves no client open.
      await Promise.all(clients.map((client) => client.waitClosed()));
    }
  });
  return async (...args) => {
    const app = await harness.start(...args);
    const clients: TestClient[] = [];
    running.push({ app, clients });
    let closing: Promise<void> | undefined;
    return {
      hub: app.hub,
      server: app.server,
      url: (path) => app.url(path),
      connect: async (path, options) => {
        const client = await app.connect(path, options);
        clients.push(client);
        return client;
      },
      expectRefusal: (path, options) => app.expectRefusal(path, options),
      close: () => {
        closing ??= app.close();
        return closing;
      },
    };
  };
}

/** The server side of the `index`-th open channel of route `routeName`, once it exists. */
export async function serverChannel(
  app: ConformanceServer,
  routeName: string,
  index = 0,
): Promise<Channel> {
  await expect.poll(() => channelsOf(app, routeName).length).toBeGreaterThan(index);
  return channelsOf(app, routeName)[index] as Channel;
}

/** Open channels of route `routeName`, in the order they were registered. */
export function channelsOf(app: ConformanceServer, routeName: string): Channel[] {
  return [...app.hub.channels].filter((channel) => channel.routeName === routeName);
}
