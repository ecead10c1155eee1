import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Logger } from '@wslane/core';

interface HttpErrorLike {
  readonly status?: unknown;
  readonly statusCode?: unknown;
  readonly headers?: unknown;
}

/**
 * Answers an upgrade request whose middleware failed the way Express's own final handler
 * (`finalhandler`) would: the error's `status`/`statusCode` (4xx/5xx, else the response's error
 * status, else 500) and, with it, the error's `headers`. The body is only the status text: the
 * stack never goes out on the socket; the error goes to the hub's logger.
 */
export function renderError(error: unknown, res: ServerResponse, logger: Logger): void {
  const { status, headers } = toHttpError(error, res.statusCode);
  logger[status >= 500 ? 'error' : 'debug']('upgrade middleware failed', { status, cause: error });
  if (res.headersSent) {
    res.socket?.destroy();
    return;
  }
  res.statusCode = status;
  for (const name of ['Content-Encoding', 'Content-Language', 'Content-Range']) {
    res.removeHeader(name);
  }
  for (const [name, value] of Object.entries(headers)) setHeaderIfValid(res, name, value);
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end(STATUS_CODES[status] ?? 'Error');
}

function toHttpError(
  error: unknown,
  responseStatus: number,
): { status: number; headers: Record<string, unknown> } {
  const { status, statusCode, headers } =
    typeof error === 'object' && error !== null ? (error as HttpErrorLike) : {};
  const own = [status, statusCode].find(isErrorStatus);
  if (own === undefined)
    return { status: isErrorStatus(responseStatus) ? responseStatus : 500, headers: {} };
  return {
    status: own,
    headers: typeof headers === 'object' && headers !== null ? { ...headers } : {},
  };
}

function isErrorStatus(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value < 600;
}

// Headers come from arbitrary error objects: one Node rejects is skipped, never thrown from here.
function setHeaderIfValid(res: ServerResponse, name: string, value: unknown): void {
  if (typeof value !== 'string' && typeof value !== 'number' && !Array.isArray(value)) return;
  try {
    res.setHeader(name, value as string | number | string[]);
  } catch {
    // an invalid header name or value (ERR_INVALID_HTTP_TOKEN, ERR_INVALID_CHAR)
  }
}
