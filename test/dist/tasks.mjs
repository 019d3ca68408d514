// A pool module that uses the built package by name, as a user's would (ESM).
import { currentCall } from 'farside'
export const add = (a, b) => a + b
export const inc = (x) => x + 1
export const call = (cb) => cb(2)
/** Sees its own call: the entry and this module share the one farside of the package. */
export const served = () => currentCall().signal.aborted === false
export class Counter {
  constructor(n) { this.n = n }
  inc() { return ++this.n }
}
