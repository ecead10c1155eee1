import type { HubOptions } from '@wslane/core';
import type { TestServer } from '@wslane/core/testing';
import { type WslaneHono, wslane } from '@wslane/hono';
import { Hono } from 'hono';
import { afterEach } from 'vitest';

type AppEnv = { Variables: { user?: string } };
type App = Hono<AppEnv>;

/** Starts a Hono app and its lane on a test server. */
export type StartHonoApp = (
  build: (app: App, lane: WslaneHono) => void,
  options?: HubOptions,
) => Promise<{ lane: WslaneHono; server: TestServer }>;

/**
 * For the tests of one file: `start` builds a Hono app with a lane and serves it on a test
 * server; after each test, every cleanup in `cleanups` runs, the last pushed first (the hub and
 * server of each `start` among them).
 */
export function useHonoApps(): { start: StartHonoApp; cleanups: (() => Promise<void>)[] } {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  async function start(
    build: (app: App, lane: WslaneHono) => void,
    options: HubOptions = {},
  ): Promise<{ lane: WslaneHono; server: TestServer }> {
    const app: App = new Hono<AppEnv>();
    const lane = wslane({ app, ...options });
    build(app, lane);
    const server = await lane.testServer();
    cleanups.push(async () => {
      await lane.hub.close({ timeout: 500 });
      await server.close();
    });
    return { lane, server };
  }
  return { start, cleanups };
}
