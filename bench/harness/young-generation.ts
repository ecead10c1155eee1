/**
 * V8's young generation, fixed at its default maximum for scenarios that measure RSS. V8 grows it
 * (to 2 × 16 MiB) at a moment of its choosing under an allocation burst, and that one-off growth of
 * up to 16 MiB of resident pages would otherwise pose as memory of whatever is measured.
 */
export const FIXED_YOUNG_GENERATION_FLAGS: readonly string[] = [
  '--min-semi-space-size=16',
  '--max-semi-space-size=16',
];

/**
 * MiB of short-lived garbage that touches every page of the fixed young generation, so that the
 * baseline is taken with all of them resident (`churnHeap`).
 */
export const YOUNG_GENERATION_CHURN_MIB = 64;
