import { type Channel, createRoute, type Route, type RouteDefinition } from '@wslane/core';
import { withTimeout } from '@wslane/core/testing';

/** A route that records its channels and errors, so a test can act on the server side. */
export interface ChannelProbe<TIn, TOut> {
  readonly route: Route<TIn, TOut, unknown>;
  readonly channels: Channel<TOut>[];
  readonly errors: { code: string; channel: string }[];
  /** The `n`-th channel opened on the route (0-based), waiting for it if needed. */
  channel(n?: number): Promise<Channel<TOut>>;
}

export function createProbe<TIn = string | Buffer, TOut = string | Buffer>(
  definition: RouteDefinition<TIn, TOut, unknown> = {},
): ChannelProbe<TIn, TOut> {
  const channels: Channel<TOut>[] = [];
  const errors: { code: string; channel: string }[] = [];
  let wake: (() => void) | undefined;
  const route = createRoute<TIn, TOut, unknown>({
    ...definition,
    onOpen: (channel) => {
      channels.push(channel);
      wake?.();
      return definition.onOpen?.(channel);
    },
    onError: (error, channel) => {
      errors.push({ code: error.code, channel: channel.id });
      definition.onError?.(error, channel);
    },
  });
  return {
    route,
    channels,
    errors,
    async channel(n = 0) {
      while (channels.length <= n) {
        await withTimeout(
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
          2000,
          `channel ${n}`,
        );
      }
      return channels[n] as Channel<TOut>;
    },
  };
}

/** A promise plus its resolve function, for handlers a test holds open. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * A probe whose `onMessage` calls never settle until `stuck.resolve()` (a hung handler), with the
 * close code of every `onClose` in `closes`.
 */
export function stuckProbe(): {
  probe: ChannelProbe<string | Buffer, string | Buffer>;
  stuck: { resolve: () => void };
  closes: number[];
} {
  const stuck = deferred();
  const closes: number[] = [];
  const probe = createProbe({
    onMessage: () => stuck.promise,
    onClose: (_channel, code) => {
      closes.push(code);
    },
  });
  return { probe, stuck, closes };
}
