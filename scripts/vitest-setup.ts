// Any unhandled rejection or uncaught exception anywhere fails the whole run: a library that
// promises "no crash from I/O" cannot tolerate one silently.
const failures: unknown[] = [];

function onUnhandled(error: unknown): void {
  failures.push(error);
  throw error;
}

if (!process.listeners('unhandledRejection').includes(onUnhandled)) {
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUnhandled);
}
