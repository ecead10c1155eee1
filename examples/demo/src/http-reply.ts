import type { Buffer } from 'node:buffer';

/** A framework-neutral HTTP answer; each adapter writes it in its framework's own way. */
export interface HttpReply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer<ArrayBuffer>;
}

/** `value` as a JSON reply. */
export function jsonReply(value: unknown, status = 200): HttpReply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: JSON.stringify(value),
  };
}
