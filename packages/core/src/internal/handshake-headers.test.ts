import { describe, expect, it } from 'vitest';
import { isHandshakeOwnedHeader } from './handshake-headers.js';

describe('isHandshakeOwnedHeader', () => {
  it.each([
    'Connection',
    'connection',
    'Keep-Alive',
    'Transfer-Encoding',
    'Upgrade',
    'Content-Length',
    'Sec-WebSocket-Accept',
    'sec-websocket-protocol',
    'Sec-WebSocket-Extensions',
  ])('keeps %s out of the 101', (name) => {
    expect(isHandshakeOwnedHeader(name)).toBe(true);
  });

  it.each(['Set-Cookie', 'X-Powered-By', 'Cache-Control', 'X-Connection-Id', 'Upgrade-Insecure'])(
    'lets %s through to the 101',
    (name) => {
      expect(isHandshakeOwnedHeader(name)).toBe(false);
    },
  );
});
