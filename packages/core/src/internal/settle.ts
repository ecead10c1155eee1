function ignore(): void {}

/**
 * A rejected promise that never counts as unhandled: the caller who awaits it still sees the
 * rejection, a caller who drops it (`channel.send(x)` without await) cannot crash the process.
 */
export function quietReject<T>(error: unknown): Promise<T> {
  const promise = Promise.reject<T>(error);
  promise.catch(ignore);
  return promise;
}

/** Marks a promise as handled without changing what its awaiters see. */
export function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(ignore);
  return promise;
}

/** A promise with its settle functions, for waits that other events end. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

/** Creates a {@link Deferred} whose promise is marked handled (see {@link quiet}). */
export function createDeferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = quiet(
    new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    }),
  );
  return { promise, resolve, reject };
}

/** True for a promise or any object with a `then` method (what a handler may return). */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | undefined)?.then === 'function';
}

/**
 * Calls a route hook that may return a promise: `onDone` once it returned or its promise resolved,
 * `onFailed` with what it threw or rejected with.
 */
export function callHook(
  call: () => unknown,
  onDone: (() => void) | undefined,
  onFailed: (error: unknown) => void,
): void {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    onFailed(error);
    return;
  }
  if (isThenable(result)) result.then(onDone, onFailed);
  else onDone?.();
}
