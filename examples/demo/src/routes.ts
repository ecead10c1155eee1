import type { Hub } from '@wslane/core';
import { admitChat } from './chat-query.js';
import { createChatRoute } from './chat-route.js';
import { createEchoRoute } from './echo-route.js';
import { admitAnyone, type DemoRoutes, type PageEndpoint } from './endpoints.js';
import { jsonReply } from './http-reply.js';
import { createLinesRoute } from './lines-route.js';
import { metricsReply } from './metrics.js';

/**
 * Every route of the demo, defined once for all three adapters: the page's files, `/healthz`,
 * `/metrics`, and the WebSocket paths `/ws/echo`, `/ws/chat` and `/ws/lines`.
 */
export function createDemoRoutes(hub: Hub, files: readonly PageEndpoint[]): DemoRoutes {
  return {
    pages: [
      ...files,
      {
        path: '/healthz',
        reply: () => {
          const stats = hub.stats();
          return jsonReply(stats, stats.state === 'open' ? 200 : 503);
        },
      },
      { path: '/metrics', reply: () => metricsReply(hub.stats()) },
    ],
    sockets: [
      { path: '/ws/echo', route: createEchoRoute(), admit: admitAnyone },
      { path: '/ws/chat', route: createChatRoute(hub.channels), admit: admitChat },
      { path: '/ws/lines', route: createLinesRoute(), admit: admitAnyone },
    ],
  };
}
