import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Hub, type HubOptions, listenOn, loadConfig } from '@wslane/core';
import type { CreateDemoApp } from './adapters/demo-app.js';
import { createExpressDemo } from './adapters/express.js';
import { createHonoDemo } from './adapters/hono.js';
import { createKoaDemo } from './adapters/koa.js';
import { createDemoRoutes } from './routes.js';
import { loadPublicFiles } from './static-files.js';

/** The frameworks the demo runs on, all serving the same routes. */
export const ADAPTERS = {
  express: createExpressDemo,
  koa: createKoaDemo,
  hono: createHonoDemo,
} as const satisfies Record<string, CreateDemoApp>;

/** `express`, `koa` or `hono`. */
export type AdapterName = keyof typeof ADAPTERS;

/** The config file shipped with the demo. */
export const DEFAULT_CONFIG_PATH: string = fileURLToPath(
  new URL('../wslane.config.json', import.meta.url),
);

/** Options of {@link startDemo}. */
export interface DemoOptions {
  /** @default "express" */
  readonly adapter?: AdapterName;
  /** @default 0 (a free port) */
  readonly port?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** Hub config; @default the shipped `wslane.config.json` */
  readonly config?: HubOptions;
}

/** A demo server that is listening. */
export interface RunningDemo {
  readonly adapter: AdapterName;
  readonly host: string;
  readonly port: number;
  /** `http://<host>:<port>`, without a trailing slash. */
  readonly url: string;
  readonly hub: Hub;
  readonly server: Server;
  /** Closes every channel (1001), then the server and its connections. */
  close(): Promise<void>;
}

/**
 * Starts the demo in this process.
 *
 * @throws {ConfigError} `WSLANE_CONFIG_INVALID` for an invalid config (or config file).
 * @example
 * ```ts
 * const demo = await startDemo({ adapter: 'koa', port: 3000 });
 * await demo.close();
 * ```
 */
export async function startDemo(options: DemoOptions = {}): Promise<RunningDemo> {
  const adapter = options.adapter ?? 'express';
  const host = options.host ?? '127.0.0.1';
  const config = options.config ?? (await loadConfig(DEFAULT_CONFIG_PATH));
  const files = await loadPublicFiles();
  const { server, hub } = ADAPTERS[adapter](config, (hub) => createDemoRoutes(hub, files));
  try {
    await listenOn(server, options.port ?? 0, host);
  } catch (error) {
    await hub.close();
    throw error;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { adapter, host, port, url, hub, server, close: () => stop(server, hub) };
}

/** True for the name of an adapter the demo has. */
export function isAdapterName(name: string): name is AdapterName {
  return Object.hasOwn(ADAPTERS, name);
}

async function stop(server: Server, hub: Hub): Promise<void> {
  // Stop accepting first; upgraded sockets keep the server open until their channels closed.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await hub.close();
  server.closeAllConnections();
  await closed;
}
