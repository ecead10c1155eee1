import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Extra response headers, as Node's `OutgoingHttpHeaders` values. */
export type RefusalHeaders = Readonly<
  Record<string, string | number | readonly string[] | undefined>
>;

/**
 * Answers an upgrade request with a real HTTP response instead of a 101 and closes the socket.
 * `code` travels in `X-Wslane-Error` so clients and logs see why.
 */
export function writeRefusal(
  socket: Duplex,
  status: number,
  code: string,
  headers: RefusalHeaders = {},
  body: string = STATUS_CODES[status] ?? 'Refused',
): void {
  if (!socket.writable || socket.destroyed) {
    socket.destroy();
    return;
  }
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    `X-Wslane-Error: ${code}`,
  ];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || /^(connection|content-length|content-type)$/i.test(name)) continue;
    for (const item of Array.isArray(value) ? value : [value])
      lines.push(`${name}: ${String(item)}`);
  }
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy());
}
