import { expect } from 'vitest';
import { ConfigError } from '../errors.js';

/** Runs `run`, expects it to throw a `WSLANE_CONFIG_INVALID` {@link ConfigError} and returns it. */
export function configErrorOf(run: () => unknown): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('WSLANE_CONFIG_INVALID');
  return error;
}

/** Like {@link configErrorOf}, for a promise that must reject with the {@link ConfigError}. */
export async function configErrorOfAsync(run: () => Promise<unknown>): Promise<ConfigError> {
  const caught = await run().then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(caught).toBeInstanceOf(ConfigError);
  const error = caught as ConfigError;
  expect(error.code).toBe('WSLANE_CONFIG_INVALID');
  return error;
}

/** The paths of the error's issues, sorted, so a test does not depend on their order. */
export function pathsOf(error: ConfigError): string[] {
  return error.issues.map((issue) => issue.path).sort();
}
