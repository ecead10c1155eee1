import { type AdapterName, DEFAULT_CONFIG_PATH, isAdapterName } from './start-demo.js';

/** What the demo server reads from its environment. */
export interface DemoEnv {
  readonly adapter: AdapterName;
  readonly port: number;
  readonly host: string;
  readonly configPath: string;
}

/**
 * Reads `ADAPTER` (express | koa | hono, default express), `PORT` (default 3000), `HOST`
 * (default 127.0.0.1) and `WSLANE_CONFIG` (default: the shipped file). Returns every problem.
 */
export function parseDemoEnv(
  env: Readonly<Record<string, string | undefined>>,
): { ok: true; value: DemoEnv } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const adapter = env.ADAPTER || 'express';
  if (!isAdapterName(adapter))
    problems.push(`ADAPTER: expected express, koa or hono, got "${adapter}"`);
  const port = Number(env.PORT || 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    problems.push(`PORT: expected a port number (0-65535), got "${env.PORT}"`);
  }
  if (problems.length > 0 || !isAdapterName(adapter)) return { ok: false, problems };
  return {
    ok: true,
    value: {
      adapter,
      port,
      host: env.HOST || '127.0.0.1',
      configPath: env.WSLANE_CONFIG || DEFAULT_CONFIG_PATH,
    },
  };
}
