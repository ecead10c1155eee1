/**
 * A value a request object carries (Node's `IncomingMessage`, a fetch `Request`) under a private
 * symbol: how an adapter finds an upgrade's state again from the request its framework hands to
 * middleware.
 *
 * Not a WeakMap: V8's young-generation GC keeps a WeakMap entry alive whenever its value reaches
 * its key (a pending upgrade holds its request). Each request, and all the framework hung on it,
 * would then be promoted to the old generation and fragment it until a full GC: over 1 KiB of RSS
 * per idle connection. A property dies with its request in the next young GC.
 */
export class RequestSlot<TValue> {
  readonly #key: symbol;

  /** @param description names the symbol, for debuggers. */
  constructor(description: string) {
    this.#key = Symbol(description);
  }

  get(request: object): TValue | undefined {
    return (request as Record<symbol, TValue | undefined>)[this.#key];
  }

  set(request: object, value: TValue): void {
    (request as Record<symbol, TValue | undefined>)[this.#key] = value;
  }

  /** Empties the slot; the property stays (undefined), so the request keeps its shape. */
  clear(request: object): void {
    (request as Record<symbol, TValue | undefined>)[this.#key] = undefined;
  }
}
