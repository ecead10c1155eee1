/**
 * The context of a channel nobody gave one: one frozen object shared by all of them, so a
 * channel without context data holds no object of its own.
 */
export const EMPTY_CONTEXT: Readonly<Record<string, never>> = Object.freeze({});
