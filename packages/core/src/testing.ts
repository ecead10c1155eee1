export type { Received, TestClientOptions } from './testing/test-client.js';
export { connect, expectRefusal, TestClient } from './testing/test-client.js';
export type { TestServer } from './testing/test-server.js';
export { listenForTest } from './testing/test-server.js';
export { withTimeout } from './testing/with-timeout.js';
