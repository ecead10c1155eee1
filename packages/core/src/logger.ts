/**
 * Where wslane reports what it cannot throw (handler errors, timeouts, refused upgrades).
 * pino, bunyan and `console` all fit: each method takes a message and an optional detail object.
 */
export interface Logger {
  debug(message: string, detail?: Record<string, unknown>): void;
  info(message: string, detail?: Record<string, unknown>): void;
  warn(message: string, detail?: Record<string, unknown>): void;
  error(message: string, detail?: Record<string, unknown>): void;
}

function ignore(): void {}

/** The logger used when the config names none: drops everything. */
export const silentLogger: Logger = { debug: ignore, info: ignore, warn: ignore, error: ignore };
