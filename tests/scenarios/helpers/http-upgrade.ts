import { createHash, randomBytes } from 'node:crypto';

/** What to change in the upgrade request a browser would send. */
export interface RequestOptions {
  /** @default '/' */
  readonly path?: string;
  /** @default 'localhost' */
  readonly host?: string;
  /** Extra or replacing headers (`undefined` removes a default one). */
  readonly headers?: Readonly<Record<string, string | undefined>>;
  /** @default 'GET' */
  readonly method?: string;
  /** `false` leaves out the blank line that ends the head. @default true */
  readonly complete?: boolean;
}

/** An HTTP response as it came over the wire. */
export interface HttpResponse {
  readonly status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** Status line, headers and body as received. */
  readonly raw: string;
}

/** The upgrade request as text, with the Sec-WebSocket-Accept value a server must answer. */
export function upgradeRequest(options: RequestOptions = {}): { text: string; accept: string } {
  const key = randomBytes(16).toString('base64');
  const headers: Record<string, string | undefined> = {
    Host: options.host ?? 'localhost',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': key,
    'Sec-WebSocket-Version': '13',
    ...options.headers,
  };
  const lines = [`${options.method ?? 'GET'} ${options.path ?? '/'} HTTP/1.1`];
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) lines.push(`${name}: ${value}`);
  }
  const text = `${lines.join('\r\n')}\r\n${(options.complete ?? true) ? '\r\n' : ''}`;
  // RFC 6455 §4.2.2: the key with the protocol's GUID appended, SHA-1, base64.
  const accept = createHash('sha1')
    .update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`)
    .digest('base64');
  return { text, accept };
}

/** Status line and headers of a response head (no body: the reader knows where the head ends). */
export function parseResponseHead(head: Buffer): HttpResponse {
  const text = head.toString('latin1');
  const [statusLine = '', ...lines] = text.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status, headers, body: '', raw: text };
}

/** What {@link writeUpgrade} puts into the upgrade request, and right behind it. */
export interface UpgradeWriteOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** Bytes written in the same TCP write as the upgrade request (early frames). */
  readonly extra?: Buffer;
}

/** Where {@link writeUpgrade} writes: a peer that resolves once the kernel took the bytes. */
export interface UpgradeWriter {
  write(bytes: Buffer): Promise<void>;
}

/**
 * Writes the upgrade request for `target`, with `options.extra` in the same write; returns the
 * Sec-WebSocket-Accept value the server must answer with.
 */
export async function writeUpgrade(
  client: UpgradeWriter,
  target: URL,
  options: UpgradeWriteOptions,
): Promise<string> {
  const { text, accept } = upgradeRequest({
    path: target.pathname + target.search,
    host: target.host,
    headers: options.headers,
  });
  const request = Buffer.from(text);
  await client.write(options.extra ? Buffer.concat([request, options.extra]) : request);
  return accept;
}
