import { expressHarness } from './harness/express.js';
import type { Harness } from './harness/harness.js';
import { honoHarness } from './harness/hono.js';
import { koaHarness } from './harness/koa.js';
import { nodeHttpHarness } from './harness/node-http.js';

/** Every app the conformance suite runs against: same expectations for all. */
export const harnesses: readonly Harness[] = [
  nodeHttpHarness,
  expressHarness,
  koaHarness,
  honoHarness,
];
