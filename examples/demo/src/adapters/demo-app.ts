import type { Server } from 'node:http';
import type { Hub, HubOptions } from '@wslane/core';
import type { DemoRoutes } from '../endpoints.js';

/** A framework app with the demo's routes mounted, on a server that is not listening yet. */
export interface DemoApp {
  readonly server: Server;
  readonly hub: Hub;
}

/** What each adapter file exports: mount `routesFor(hub)` on its framework, hub built from `config`. */
export type CreateDemoApp = (config: HubOptions, routesFor: (hub: Hub) => DemoRoutes) => DemoApp;
