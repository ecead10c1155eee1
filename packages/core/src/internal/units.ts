import bytes from 'bytes';
import ms from 'ms';

/** A duration in milliseconds or a string like `"30s"`, `"5m"`, `"250ms"`. */
export type DurationInput = number | string;
/** A size in bytes or a string like `"64kb"`, `"1mb"` (1 kb = 1024 bytes). */
export type SizeInput = number | string;

const SIZE_PATTERN = /^\s*\d+(\.\d+)?\s*([kmgtp]?b)?\s*$/i;

/** Milliseconds for a duration input, or `undefined` when it is not a valid non-negative duration. */
export function toMilliseconds(input: DurationInput): number | undefined {
  let value: number | undefined;
  try {
    value = typeof input === 'number' ? input : ms(input as ms.StringValue);
  } catch {
    // ms throws on an empty string instead of answering "not a duration".
    return undefined;
  }
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? Math.round(value)
    : undefined;
}

/** Bytes for a size input, or `undefined` when it is not a valid non-negative size. */
export function toBytes(input: SizeInput): number | undefined {
  // bytes.parse reads "64k" or "1 MiB" as their leading number; only whole sizes may pass.
  if (typeof input === 'string' && !SIZE_PATTERN.test(input)) return undefined;
  const value = typeof input === 'number' ? input : bytes.parse(input);
  return typeof value === 'number' && Number.isFinite(value) && value >= 0
    ? Math.floor(value)
    : undefined;
}
