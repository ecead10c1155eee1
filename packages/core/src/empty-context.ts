/**
 * The context of a channel nobody gave one: one frozen object shared by all of them, so a
 * channel without context data holds no object of its own.
 */
export const EMPTY_CONTEXT: Readonly<Record<string, never>> = Object.freeze({});

/**
 * What a channel keeps of a request record (params, query, locals, state): a plain copy, or
 * {@link EMPTY_CONTEXT} when the record holds nothing. Frameworks build these records without a
 * prototype, and V8 stores such objects as hash tables of ~200 bytes even when they are empty:
 * kept per channel, that would be most of a channel's memory.
 */
export function snapshotRecord<T extends object>(record: T | undefined): Readonly<T> {
  for (const key in record) if (Object.hasOwn(record, key)) return { ...record };
  return EMPTY_CONTEXT as Readonly<T>;
}
