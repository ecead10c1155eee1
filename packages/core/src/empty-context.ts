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

/** Read-only copies of each of a set of request records. */
export type RecordSnapshots<T> = { readonly [K in keyof T]: Readonly<NonNullable<T[K]>> };

/**
 * {@link snapshotRecord} of each of `records` (an adapter's default context), or `whenEmpty`
 * (one frozen object shared by every such channel) when all of them hold nothing.
 */
export function snapshotRecords<T extends Record<string, object | undefined>>(
  records: T,
  whenEmpty: RecordSnapshots<T>,
): RecordSnapshots<T> {
  const copies: Record<string, object> = {};
  let empty = true;
  for (const [key, record] of Object.entries(records)) {
    const copy = snapshotRecord(record);
    copies[key] = copy;
    if (copy !== EMPTY_CONTEXT) empty = false;
  }
  return empty ? whenEmpty : (copies as RecordSnapshots<T>);
}
