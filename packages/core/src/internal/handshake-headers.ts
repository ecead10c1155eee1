/**
 * Headers a 101 must not take from middleware: the handshake's own (`Upgrade`, `Connection`,
 * `Sec-WebSocket-*`, RFC 6455 §4.2.2), the other hop-by-hop ones (RFC 9110 §7.6.1) and
 * `Content-Length`, which no 1xx response may carry (RFC 9110 §8.6). Middleware sets them for
 * ordinary responses; everything else it set (`Set-Cookie`…) goes out with the 101.
 */
const HANDSHAKE_OWNED =
  /^(?:connection|keep-alive|proxy-connection|te|trailer|transfer-encoding|upgrade|content-length|sec-websocket-[a-z-]+)$/i;

/** True for a header name the 101 response never takes from {@link UpgradeHeaders}. */
export function isHandshakeOwnedHeader(name: string): boolean {
  return HANDSHAKE_OWNED.test(name);
}
