/** One event-loop turn (a macrotask): I/O callbacks and the promise reactions they caused ran. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
