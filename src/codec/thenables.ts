// Which decoded values are a peer's by-value objects with a `then` function: the decoder notes
// them, and farside's promise machinery asks before it would adopt one.

// A peer's by-value object with a `then` function is data, never a thenable: farside's own
// promise machinery must not call a peer's `then` (it may never call back, or its owner may have
// gone, and an adoption never learns that it failed). Decoding notes such objects here; farside
// itself sends objects with a `then` function by reference, so only a hostile peer sends them.
const wireThenables = new WeakSet<object>()

export function noteThen(value: object): void {
  if (typeof (value as { then?: unknown }).then === 'function') wireThenables.add(value)
}

/** Why a promise of farside's does not take a peer's by-value thenable as its value. */
export const WIRE_THENABLE = "the peer sent a by-value object with a `then` function as a promise's value: farside does not adopt a peer's thenable (a farside peer sends such objects by reference)"

/** Whether `value` is a by-value object from a peer with a `then` function (data, not a thenable). */
export function isWireThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && wireThenables.has(value)
}
