// One small function per operation a peer may ask for, in a lookup table. Each gets the target
// object, the property path from it and the decoded argument, and returns the result (or a
// promise of it). The access policy is applied here, on every name the peer sends.
import { AccessError } from '../errors.ts'
import { checkName, visible, visibleKeys } from './policy.ts'
import { handleOf } from '../proxy/remote.ts'
import type { Registry } from './registry.ts'
import { MAX_NEXT, type Op, type Path } from './messages.ts'

/** What handlers may know about the connection they serve. */
export interface HandlerContext {
  registry: Registry
  allowSet: boolean
  allowDelete: boolean
  /** Whether a value is this side's own object, served to this peer (the only kind it may attach). */
  owned(value: unknown): boolean
  /**
   * Names this connection's peer attached, with what it attached: it may replace those and no
   * others, at most `maxAttached` at once; the connection unexports them when it closes.
   */
  attached: Map<string, unknown>
  maxAttached: number
  /** What the peer delivered (hold): its data, kept here, but never this side's own to attach. */
  held: WeakSet<object>
  /** The classic-mode service of this connection (made on first use); undefined without `classic: true`. */
  classic?: (() => unknown) | undefined
}

/** The reserved name classic mode's service is fetched by; no registry can shadow it. */
export const CLASSIC = 'farside:classic'

type Handler = (ctx: HandlerContext, target: unknown, path: Path, args: unknown[]) => unknown

/**
 * Checks a name the peer sent, unless the object is itself a Remote (a proxy of another
 * connection, forwarded): then the operation goes on to the object's owner, whose policy decides.
 */
function check(obj: unknown, name: unknown): asserts name is string | number {
  // every proxy is a function: plain objects and class instances need no handle lookup
  if (typeof obj !== 'function' || handleOf(obj) === undefined) checkName(obj, name)
  else if (typeof name !== 'string' && typeof name !== 'number') checkName(obj, name)
}

/** Reads `path` from `target`, checking each name; waits where a step is a promise. */
export function walk(target: unknown, path: Path, from = 0): unknown {
  let value = target
  for (let i = from; i < path.length; i++) {
    if (value instanceof Promise) return value.then((v) => walk(v, path, i))
    const name = path[i]
    check(value, name)
    if (value === null || value === undefined) throw new TypeError(`cannot read '${String(name)}' of ${value}`)
    value = (value as Record<string | number, unknown>)[name]
  }
  return value
}

/** Walks to the parent of the last name, then applies `fn(parent, name)`. */
function atLast(target: unknown, path: Path, fn: (parent: unknown, name: string | number) => unknown): unknown {
  if (path.length === 0) return fn(undefined, '')
  const parent = path.length === 1 ? target : walk(target, path.slice(0, -1))
  const name = path[path.length - 1]
  const go = (p: unknown) => {
    check(p, name)
    if (p === null || p === undefined) throw new TypeError(`cannot read '${String(name)}' of ${p}`)
    return fn(p, name!)
  }
  return parent instanceof Promise ? parent.then(go) : go(parent)
}

function callMethod(parent: unknown, name: unknown, args: unknown[]): unknown {
  check(parent, name)
  if (parent === null || parent === undefined) throw new TypeError(`cannot read '${String(name)}' of ${parent}`)
  const fn = (parent as Record<string | number, unknown>)[name]
  if (typeof fn !== 'function') throw new TypeError(`${String(name)} is not a function`)
  return Reflect.apply(fn, parent, args)
}



/** Longest name a peer may attach. */
const MAX_NAME = 256

export const handlers: Record<Op, Handler> = {
  get: (_ctx, target, path) => walk(target, path),

  call: (_ctx, target, path, args) => {
    if (path.length === 0) {
      if (typeof target !== 'function') throw new TypeError('the remote object is not a function')
      return Reflect.apply(target, undefined, args)
    }
    // the common case, a method of the target itself, without closures
    if (path.length === 1) return callMethod(target, path[0], args)
    const parent = walk(target, path.slice(0, -1))
    const name = path[path.length - 1]
    return parent instanceof Promise ? parent.then((p) => callMethod(p, name, args)) : callMethod(parent, name, args)
  },

  new: (_ctx, target, path, args) => {
    const construct = (ctor: unknown, name: string) => {
      if (typeof ctor !== 'function' || ctor.prototype === undefined) throw new TypeError(`${name} is not a constructor`)
      return Reflect.construct(ctor, args)
    }
    const ctor = walk(target, path)
    const name = String(path[path.length - 1] ?? 'the remote object')
    return ctor instanceof Promise ? ctor.then((c) => construct(c, name)) : construct(ctor, name)
  },

  set: (ctx, target, path, [value]) => {
    if (!ctx.allowSet) throw new AccessError('setting properties is not allowed on this connection (allowSet)')
    if (path.length === 0) throw new TypeError('set needs a property name')
    return atLast(target, path, (parent, name) => {
      if (!Reflect.set(parent as object, name, value)) throw new TypeError(`cannot set '${String(name)}'`)
      return undefined
    })
  },

  del: (ctx, target, path) => {
    if (!ctx.allowDelete) throw new AccessError('deleting properties is not allowed on this connection (allowDelete)')
    if (path.length === 0) throw new TypeError('delete needs a property name')
    return atLast(target, path, (parent, name) => Reflect.deleteProperty(parent as object, name))
  },

  has: (_ctx, target, path) => {
    if (path.length === 0) throw new TypeError('has needs a property name')
    const parent = walk(target, path.slice(0, -1))
    const name = path[path.length - 1]!
    const test = (p: unknown) => p !== null && (typeof p === 'object' || typeof p === 'function') && visible(p, name) && name in p
    return parent instanceof Promise ? parent.then(test) : test(parent)
  },

  keys: (_ctx, target, path) => {
    const value = walk(target, path)
    return value instanceof Promise ? value.then(visibleKeys) : visibleKeys(value)
  },

  iter: (_ctx, target, path) => {
    const open = (value: unknown) => {
      const v = value as { [Symbol.asyncIterator]?: () => unknown; [Symbol.iterator]?: () => unknown }
      if (v !== null && v !== undefined && typeof v[Symbol.asyncIterator] === 'function') return v[Symbol.asyncIterator]!()
      if (v !== null && v !== undefined && typeof v[Symbol.iterator] === 'function') return v[Symbol.iterator]!()
      throw new TypeError('the remote object is not iterable')
    }
    const value = walk(target, path)
    return value instanceof Promise ? value.then(open) : open(value)
  },

  // [n]: n > 0: up to n items as [items, done]; n = 0: close the iterator (return()).
  next: (_ctx, target, path, [n]) => {
    const it = walk(target, path) as Iterator<unknown> | AsyncIterator<unknown>
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > MAX_NEXT) throw new TypeError(`next needs a count from 0 to ${MAX_NEXT}`)
    checkName(it, n === 0 ? 'return' : 'next')
    if (n === 0) {
      const r = typeof it.return === 'function' ? it.return() : undefined
      return r instanceof Promise ? r.then(() => undefined) : undefined
    }
    return pull(it, n, [])
  },

  fetch: (ctx, _target, _path, [name]) => {
    if (typeof name !== 'string') throw new TypeError('fetch needs a name')
    if (name === CLASSIC) {
      if (ctx.classic === undefined) throw new AccessError('the peer does not serve classic mode: it needs classic: true')
      return ctx.classic()
    }
    if (!ctx.registry.has(name)) throw new ReferenceError(`no export named '${name}'`)
    return ctx.registry.get(name)
  },

  browse: (ctx) => ctx.registry.browse(),

  attach: (ctx, _target, _path, [value, name]) => {
    if (typeof name !== 'string' || name === '' || name.length > MAX_NAME) throw new TypeError(`attach needs a name of 1 to ${MAX_NAME} characters`)
    // only an object of this side's that the peer holds a Remote of: a by-value object (a `then`
    // of the peer's choosing, megabytes of data) would let one client poison what others fetch
    if (value === null || (typeof value !== 'object' && typeof value !== 'function') || !ctx.owned(value)) {
      throw new TypeError("attach needs a Remote of the serving side's own object (one it served to this connection)")
    }
    if (ctx.registry.has(name) && !ctx.attached.has(name)) throw new AccessError(`'${name}' is exported already; a peer may replace only names it attached`)
    if (!ctx.attached.has(name) && ctx.attached.size >= ctx.maxAttached) throw new AccessError(`too many names attached by this connection (limits.maxAttached is ${ctx.maxAttached})`)
    ctx.registry.export(name, value)
    ctx.attached.set(name, value)
    return undefined
  },

  ping: (_ctx, _target, _path, [x]) => x,

  // deliver(): keep the value sent; the reply is a reference to it (the callee replies by
  // reference for hold), without marking the value, so it crosses by value again later
  hold: (ctx, _target, _path, [value]) => {
    // a copy the peer sent is its data, not this side's object: it may never be attached
    if (value !== null && typeof value === 'object') ctx.held.add(value)
    return value
  },

  // obtain(): the value at path, sent back by value (the connection encodes it in copy mode)
  obtain: (_ctx, target, path) => walk(target, path),
}

function pull(it: Iterator<unknown> | AsyncIterator<unknown>, n: number, items: unknown[]): unknown {
  while (items.length < n) {
    const r = it.next()
    if (r instanceof Promise) {
      return r.then((res: IteratorResult<unknown>) => {
        if (res.done) return [items, true]
        items.push(res.value)
        return pull(it, n, items)
      })
    }
    if (r.done) return [items, true]
    items.push(r.value)
  }
  return [items, false]
}
