import type { Server, ServerOptions } from 'node:http';
import type { Hub, HubOptions } from '@wslane/core';
import type { TestClient, TestClientOptions } from '@wslane/core/testing';

/** One running app: a framework (or plain node:http) serving the conformance routes. */
export interface ConformanceServer {
  readonly hub: Hub;
  readonly server: Server;
  url(path: string): string;
  connect(path: string, options?: TestClientOptions): Promise<TestClient>;
  expectRefusal(
    path: string,
    options?: TestClientOptions,
  ): Promise<{ status: number; headers: Record<string, string | string[] | undefined> }>;
  /** hub.close() then server.close(): resolves with no channel and no connection left. */
  close(): Promise<void>;
}

/**
 * How the suite starts an app. Every harness serves the same paths (see conformance-routes.ts),
 * GET /health → 200 "ok", and on /ws/whoami the auth middleware of its framework (AUTH).
 * Differences between harnesses are capability flags here, never checks of the name.
 */
export interface Harness {
  readonly name: string;
  start(options?: HubOptions, serverOptions?: ServerOptions): Promise<ConformanceServer>;
}
