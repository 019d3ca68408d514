// Local marks a user puts on values to change how they cross: ref(), copy(), transfer().
// The codec reads them; nothing else does.
import type { Transferable } from '../types.ts'

const refs = new WeakSet<object>()
const copies = new WeakSet<object>()
const transfers = new WeakMap<object, readonly Transferable[]>()

/**
 * Marks `value` to cross by reference even where it would cross by value (a plain object, an
 * array, a Map): the peer gets a Remote to it. Returns `value` itself. Primitives cannot be marked.
 */
export function ref<T extends object>(value: T): T {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) throw new TypeError('ref() needs an object or function')
  refs.add(value)
  copies.delete(value)
  return value
}

/**
 * Marks a class instance to cross by value (its own enumerable properties, structured-clone
 * style; the prototype does not cross) instead of by reference. Returns `value` itself.
 */
export function copy<T extends object>(value: T): T {
  if (value === null || typeof value !== 'object') throw new TypeError('copy() needs an object')
  copies.add(value)
  refs.delete(value)
  return value
}

/**
 * Marks `value` to be sent with `list` moved rather than copied where the transport can
 * (MessagePort: zero-copy, the buffers are detached here); other transports copy the bytes,
 * which is still correct. Returns `value` itself; only the next send of `value` uses the mark.
 */
export function transfer<T extends object>(value: T, list: readonly Transferable[]): T {
  if (value === null || typeof value !== 'object') throw new TypeError('transfer() needs an object (a buffer, a typed array, a container)')
  if (!Array.isArray(list)) throw new TypeError('transfer() needs an array of ArrayBuffers or MessagePorts')
  transfers.set(value, list)
  return value
}

export const isRefMarked = (v: object): boolean => refs.has(v)
export const isCopyMarked = (v: object): boolean => copies.has(v)
export function takeTransfer(v: object): readonly Transferable[] | undefined {
  const list = transfers.get(v)
  if (list !== undefined) transfers.delete(v)
  return list
}
