import type { IncomingMessage } from 'node:http';

/** The request path without its query string. */
export function pathnameOf(req: IncomingMessage): string {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** The client's IP: the socket's peer, or the X-Forwarded-For entry `trustProxy` hops back. */
export function clientIpOf(req: IncomingMessage, trustProxy: number): string {
  const direct = req.socket.remoteAddress ?? 'unknown';
  if (trustProxy === 0) return direct;
  const header = req.headers['x-forwarded-for'];
  const list = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return list[Math.max(0, list.length - trustProxy)] ?? direct;
}

/**
 * Cross-site WebSocket hijacking guard: allows clients without an Origin header (not browsers),
 * same-origin pages, and the configured origins ("*" allows all).
 */
export function isOriginAllowed(req: IncomingMessage, origins: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined || origins.includes('*')) return true;
  const normalized = origin.toLowerCase().replace(/\/+$/, '');
  if (origins.some((allowed) => allowed.toLowerCase().replace(/\/+$/, '') === normalized)) {
    return true;
  }
  try {
    return new URL(normalized).host === (req.headers.host ?? '').toLowerCase();
  } catch {
    return false;
  }
}

/** The first of our subprotocols (in our order of preference) that the client offered. */
export function chooseProtocol(
  offered: ReadonlySet<string>,
  supported: readonly string[],
): string | false {
  for (const protocol of supported) if (offered.has(protocol)) return protocol;
  return false;
}
