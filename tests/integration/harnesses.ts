import type { Harness } from './harness/harness.js';
import { nodeHttpHarness } from './harness/node-http.js';

/** Every app the conformance suite runs against: same expectations for all. */
export const harnesses: readonly Harness[] = [nodeHttpHarness];
