import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';

/** Headers Node writes itself for a refusal: copying Hono's values would contradict its framing. */
const NODE_OWNED = /^(?:connection|keep-alive|transfer-encoding|content-length)$/i;

/**
 * The Fetch `Request` Hono sees for an upgrade request: GET, the URL from `Host` and the request
 * target, every header (repeated ones kept), no body. `undefined` when Node accepted a target or
 * header the Fetch API rejects.
 */
export function toFetchRequest(req: IncomingMessage): Request | undefined {
  const target = req.url ?? '/';
  const scheme = (req.socket as Partial<TLSSocket>).encrypted === true ? 'https' : 'http';
  // Concatenated, not resolved: a target like `//evil` must stay a path, never become a host.
  const url = /^https?:\/\//i.test(target)
    ? target
    : `${scheme}://${req.headers.host ?? 'localhost'}${target}`;
  try {
    const headers = new Headers();
    const raw = req.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2)
      headers.append(raw[i] as string, raw[i + 1] as string);
    return new Request(url, { method: 'GET', headers });
  } catch {
    return undefined;
  }
}

/** A Fetch `Headers` as the 101's extra headers; each `Set-Cookie` stays its own header. */
export function toUpgradeHeaders(headers: Headers): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of headers) if (name !== 'set-cookie') out[name] = value;
  const cookies = headers.getSetCookie();
  if (cookies.length > 0) out['set-cookie'] = cookies;
  return out;
}

/** Writes a Fetch `Response` (status, headers, every `Set-Cookie`, body) to a Node response. */
export function writeFetchResponse(res: ServerResponse, response: Response, body: Buffer): void {
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(toUpgradeHeaders(response.headers))) {
    if (!NODE_OWNED.test(name)) res.setHeader(name, value);
  }
  res.end(body);
}
