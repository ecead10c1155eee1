import type { Buffer } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import type { PageEndpoint } from './endpoints.js';

/** The page's files, read once at startup: path → file in `public/` and its content type. */
const FILES = [
  ['/', 'index.html', 'text/html; charset=utf-8'],
  ['/app.js', 'app.js', 'text/javascript; charset=utf-8'],
  ['/style.css', 'style.css', 'text/css; charset=utf-8'],
] as const;

/** Same-origin everything: the page may only talk to the server that served it (ws included). */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/** The chat page as endpoints; `dir` defaults to the demo's `public/`. */
export async function loadPublicFiles(
  dir: URL = new URL('../public/', import.meta.url),
): Promise<PageEndpoint[]> {
  return Promise.all(
    FILES.map(async ([path, file, type]): Promise<PageEndpoint> => {
      const body: Buffer<ArrayBuffer> = await readFile(new URL(file, dir));
      const headers = {
        'content-type': type,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
        'content-security-policy': CONTENT_SECURITY_POLICY,
      };
      return { path, reply: () => ({ status: 200, headers, body }) };
    }),
  );
}
