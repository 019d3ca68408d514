// What a peer may touch on this side's objects: the default rules of DESIGN.md "Access policy",
// narrowed per object by expose(). Every name a peer sends passes through checkName().
import { AccessError } from '../errors.ts'

/** Names that lead out of an object to its constructor, prototype or property machinery. */
const FORBIDDEN = new Set([
  'constructor', 'prototype', '__proto__', '__defineGetter__', '__defineSetter__',
  '__lookupGetter__', '__lookupSetter__', 'caller', 'callee', 'arguments',
])

interface Exposure {
  allow?: ReadonlySet<string>
  deny?: ReadonlySet<string>
}
const exposures = new WeakMap<object, Exposure>()

/**
 * Narrows what the peer may reach on `obj`: with `allow`, only those names; `deny` names are
 * refused. It only narrows: `_names`, `constructor` and the like stay refused even if allowed.
 * Returns `obj`. Calling it again replaces the earlier rules for that object.
 */
export function expose<T extends object>(obj: T, rules: { allow?: readonly string[]; deny?: readonly string[] } = {}): T {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) throw new TypeError('expose() needs an object or function')
  if (rules === null || typeof rules !== 'object') throw new TypeError('expose() rules must be { allow?, deny? }')
  for (const list of [rules.allow, rules.deny]) {
    if (list !== undefined && (!Array.isArray(list) || list.some((n) => typeof n !== 'string'))) throw new TypeError('expose() allow/deny must be arrays of names')
  }
  exposures.set(obj, {
    ...(rules.allow ? { allow: new Set(rules.allow) } : {}),
    ...(rules.deny ? { deny: new Set(rules.deny) } : {}),
  })
  return obj
}

/**
 * Members every object or function inherits from the language itself (call, apply, bind,
 * toString, valueOf, hasOwnProperty, ...): `fn.call(null)` would let a peer choose `this` (in
 * sloppy code, the global object), `fn.toString()` would show source. Refused unless the object
 * defines the name itself, on it or on a prototype of its own.
 */
const BUILTIN = new Set([...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Function.prototype)])

function definedByLanguage(obj: unknown, name: string): boolean {
  let p: unknown = obj
  while (p !== null && p !== undefined) {
    if (p === Object.prototype || p === Function.prototype) return true
    if (Object.prototype.hasOwnProperty.call(p, name)) return false
    p = Object.getPrototypeOf(p)
  }
  return false
}

/** Whether the peer may see `name` on `obj` at all. */
export function visible(obj: unknown, key: string | number): boolean {
  const name = typeof key === 'number' ? String(key) : key
  if (name.charCodeAt(0) === 95 /* _ */ || FORBIDDEN.has(name)) return false
  if (BUILTIN.has(name) && (typeof obj === 'object' || typeof obj === 'function') && definedByLanguage(obj, name)) return false
  if (obj !== null && (typeof obj === 'object' || typeof obj === 'function')) {
    const rules = exposures.get(obj)
    if (rules !== undefined) {
      if (rules.allow !== undefined && !rules.allow.has(name)) return false
      if (rules.deny !== undefined && rules.deny.has(name)) return false
    }
  }
  return true
}

/** Throws AccessError unless the peer may reach `name` on `obj`. */
export function checkName(obj: unknown, name: unknown): asserts name is string | number {
  if (typeof name !== 'string' && typeof name !== 'number') throw new AccessError(`property names must be strings or numbers, not ${typeof name}`)
  if (!visible(obj, name)) throw new AccessError(`access to '${String(name)}' is not allowed`)
}

/** The names `keys()` reports: own enumerable keys and inherited methods, as the policy allows. */
export function visibleKeys(obj: unknown): string[] {
  if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function')) return []
  const out = new Set<string>()
  for (const k of Object.keys(obj)) if (visible(obj, k)) out.add(k)
  for (let p = Object.getPrototypeOf(obj); p !== null && p !== Object.prototype && p !== Function.prototype; p = Object.getPrototypeOf(p)) {
    for (const k of Object.getOwnPropertyNames(p)) if (visible(obj, k)) out.add(k)
  }
  return [...out]
}
