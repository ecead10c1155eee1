import type { Hub } from '@wslane/core';
import type { TestServer } from '@wslane/core/testing';
import type { ConformanceContext, ConformancePath } from '../conformance-routes.js';
import type { ConformanceServer } from './harness.js';

/**
 * The conformance paths a framework's router mounts with its plain upgrade handler: every one
 * but /ws/whoami, which goes behind the framework's auth middleware.
 */
export const ROUTED_PATHS = [
  '/ws/echo',
  '/ws/json',
  '/ws/lines',
  '/ws/rooms/:room',
  '/ws/slow-open',
  '/ws/fail',
  '/ws/keyed',
  '/ws/keyed-refuse',
  '/ws/idle',
  '/ws/proto',
] as const satisfies readonly Exclude<ConformancePath, '/ws/whoami'>[];

/** A harness's app as the suite sees it: `close()` closes the hub, then the server. */
export function toConformanceServer(hub: Hub, running: TestServer): ConformanceServer {
  return {
    hub,
    server: running.server,
    url: running.url,
    connect: running.connect,
    expectRefusal: running.expectRefusal,
    close: async () => {
      await hub.close({ timeout: 500 });
      await running.close();
    },
  };
}

/** A channel's context from what the framework found: `user` only where auth middleware set one. */
export function conformanceContext(
  params: Record<string, string>,
  query: Record<string, string>,
  user: string | undefined,
): ConformanceContext {
  return user === undefined ? { params, query } : { params, query, user };
}
