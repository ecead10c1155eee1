import type { IncomingMessage, ServerResponse } from 'node:http';

/** What Express's `app.handle` and router add to the request, none of them getters of its own. */
const REQUEST_FIELDS = ['res', 'next', 'baseUrl', 'originalUrl', 'params', 'route', '_parsedUrl'];
/** What `app.handle` adds to the response. */
const RESPONSE_FIELDS = ['req', 'locals'];

/**
 * Declares, as `undefined`, the properties Express will add to an upgrade's request and response,
 * before Express gives them its own prototypes. V8 keeps objects that gain properties after such a
 * prototype change alive through young-generation collections until a full one, so every upgrade
 * left ~3.5 KiB to die in the old generation, where RSS keeps its pages (`npm run bench:promoted`:
 * 6.1 → 2.2–3.1 KiB promoted per upgrade on a bare Express app, raw ws 2.6). Express reads each of
 * them as "not set yet" when it is `undefined`, so nothing it does changes.
 */
export function declareExpressFields(req: IncomingMessage, res: ServerResponse): void {
  const request = req as unknown as Record<string, unknown>;
  for (const field of REQUEST_FIELDS) if (!(field in request)) request[field] = undefined;
  const response = res as unknown as Record<string, unknown>;
  for (const field of RESPONSE_FIELDS) if (!(field in response)) response[field] = undefined;
}
