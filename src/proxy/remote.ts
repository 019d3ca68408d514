// The only module that uses Proxy. A Remote is a callable proxy over a Handle: a target on the
// peer (an import id, the root, or a pipelined result id) plus a property path not yet sent.
// Property reads only extend the path; calls, constructs and awaits turn it into an operation.
import type { Op, Path } from '../protocol/messages.ts'
import { HANDLE, handleOf, type Handle, type IterOptions, type ProxyHost, type ResultState } from './handle.ts'
import { bufferedIterator } from './iterate.ts'

// the names importers of this module use; the definitions live in the leaf handle.ts
export { handleOf }
export type { Handle, IterOptions, ProxyHost, ResultState }

const inspect = Symbol.for('nodejs.util.inspect.custom')

/** util.inspect's hook on every proxy's target (called with the proxy or the target as `this`). */
function inspectRemote(this: object): string {
  const h = (this as Record<symbol, Handle | undefined>)[HANDLE]
  return h === undefined ? '[Remote]' : describe(h)
}

const traps: ProxyHandler<Record<symbol, Handle>> = {
  get(target, prop, receiver) {
    const h = target[HANDLE]!
    if (typeof prop === 'string') {
      if (prop === 'then') return thenable(h) ? thenOf(h) : undefined
      // JSON.stringify calls a toJSON it finds: a remote one would give back a proxy, which
      // JSON drops without a word (`{}`), so the read itself says what to do instead
      if (prop === 'toJSON') return () => notAValue(h, 'turned into JSON')
      // a pending result is a promise for local code: catch and finally work on it here
      if ((prop === 'catch' || prop === 'finally') && thenable(h)) {
        const then = thenOf(h)
        const promise = () => new Promise((resolve, reject) => void then(resolve, reject))
        return prop === 'catch'
          ? (onRejected?: (e: unknown) => unknown) => then(undefined, onRejected)
          : (onFinally?: () => void) => promise().finally(onFinally)
      }
      const owner = h.owner ?? (h.path.length === 0 && h.result === undefined ? receiver : undefined)
      if (h.path.length === 0 && h.result === undefined) {
        // a settled Remote keeps its members' proxies: `r.method(...)` in a loop allocates less
        const cache = (h.members ??= new Map())
        let member = cache.get(prop)
        if (member === undefined) {
          member = makeProxy({ host: h.host, base: h.base, path: [prop], result: undefined, tracker: h.tracker, owner, opts: h.opts })
          if (cache.size < 64) cache.set(prop, member)
        }
        return member
      }
      return makeProxy({ host: h.host, base: h.base, path: [...h.path, prop], result: h.result, tracker: h.tracker, owner, opts: h.opts })
    }
    if (prop === HANDLE) return h
    if (prop === Symbol.asyncIterator) return (options?: IterOptions) => bufferedIterator(h.host, h, options)
    if (prop === Symbol.dispose) return () => h.host.release(h)
    if (prop === inspect) return () => describe(h)
    if (prop === Symbol.toPrimitive) return () => notAValue(h, 'used as a primitive value')
    if (prop === Symbol.toStringTag) return 'Remote'
    return undefined
  },
  set(target, prop, value) {
    if (typeof prop !== 'string') return false
    const h = target[HANDLE]!
    h.host.assign({ ...h, path: [...h.path, prop] }, value)
    return true
  },
  apply(target, _this, args) {
    const h = target[HANDLE]!
    const last = h.path[h.path.length - 1]
    if ((last === 'bind' || last === 'call' || last === 'apply') && ownThis(h, args[0])) {
      const local = callLocally(h, last, args)
      if (local !== undefined) return local
    }
    return h.host.op('call', h, args)
  },
  construct(target, args) {
    const h = target[HANDLE]!
    return h.host.op('new', h, args) as object
  },
  has(target, prop) {
    return prop === 'then' ? thenable(target[HANDLE]!) : Reflect.has(target, prop)
  },
  deleteProperty() {
    return false
  },
  defineProperty() {
    return false
  },
}

/**
 * `f.bind(t, ...)`, `f.call(t, ...)` and `f.apply(t, list)` of a remote function `f`, done here as
 * Function.prototype does them, so the peer (whose policy refuses those names) never sees them.
 * A remote method always runs with its owner as `this`, so `t` cannot be honoured; these forms
 * are taken for Function.prototype's only when `t` is undefined, null or the owner itself (the
 * Remote the method was read from), and otherwise go to the peer as calls of members of those
 * names (a remote object's own `call(x)` or `bind(port)` method still works). Returns undefined
 * for an `apply` whose second argument is not an argument list: that goes to the peer too.
 */
function callLocally(h: Handle, name: 'bind' | 'call' | 'apply', args: unknown[]): object | undefined {
  const fn: Handle = { host: h.host, base: h.base, path: h.path.slice(0, -1), result: h.result, tracker: h.tracker, owner: h.owner, opts: h.opts }
  if (name === 'call') return h.host.op('call', fn, args.slice(1))
  if (name === 'apply') {
    const list = args[1]
    if (list === undefined || list === null) return h.host.op('call', fn, [])
    if (typeof list !== 'object' || handleOf(list) !== undefined || typeof (list as ArrayLike<unknown>).length !== 'number') return undefined
    return h.host.op('call', fn, Array.from(list as ArrayLike<unknown>))
  }
  const partial = args.slice(1)
  if (partial.length === 0) {
    // a settled Remote bound to nothing new is itself (identity kept); else a Remote of the path
    return fn.path.length === 0 && fn.result === undefined && h.owner !== undefined ? h.owner : makeProxy(fn)
  }
  // bound arguments cannot ride in a handle: a local function that prepends them
  const host = h.host
  return function bound(...rest: unknown[]): object {
    return host.op(new.target === undefined ? 'call' : 'new', fn, [...partial, ...rest])
  }
}

/** Whether `value` may stand for the `this` of the function `h` applies bind/call/apply to. */
function ownThis(h: Handle, value: unknown): boolean {
  if (value === undefined || value === null) return true
  // h.path is [...owner path, method, 'bind' | 'call' | 'apply']; a path of one has no owner
  const o = handleOf(value)
  const n = h.path.length - 2
  if (o === undefined || n < 0 || o.host !== h.host || o.base !== h.base || o.result !== h.result || o.path.length !== n) return false
  for (let i = 0; i < n; i++) if (o.path[i] !== h.path[i]) return false
  return true
}

/** A settled Remote (an import or the root, path empty) is not thenable; everything else is. */
function thenable(h: Handle): boolean {
  return h.path.length > 0 || h.result !== undefined
}

function thenOf(h: Handle) {
  return (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => {
    const state = h.path.length === 0 && h.result !== undefined ? h.result : stateOf(h.host.op('get', h))
    const p = h.host.promise(state)
    const mark = h.host.markFailure
    if (onRejected === undefined || mark === undefined) return p.then(onFulfilled, onRejected)
    // one closure per connection, not per await
    // The local stack, for free until a call fails: a stack captured inside a reaction whose
    // derived promise leads on to an awaiting async function lists those functions ("at async
    // f"), so the failure is marked in a reaction of its own, chained in front of the awaiter.
    // (V8 follows the chain through the next reaction's fulfil handler, so both go there.)
    return p.then(undefined, mark).then(onFulfilled, onRejected)
  }
}

function stateOf(proxy: object): ResultState {
  const h = handleOf(proxy)
  if (h?.result === undefined) {
    // a local reroute can give back a settled Remote; its "result" is itself
    return localState(1, proxy)
  }
  return h.result
}

/** Makes the proxy for a handle. */
export function makeProxy(h: Handle): object {
  // Every proxy is callable, a pending result too (`r.getFn()(1)` is pipelined). So typeof says
  // 'function': code that takes "a promise or a function" wants Promise.resolve(p) instead.
  const target = function remote() {} as unknown as Record<symbol, unknown>
  target[HANDLE] = h
  // util.inspect looks at a proxy's target, never through its traps: the description lives there
  target[inspect] = inspectRemote
  return new Proxy(target, traps)
}

/** A result computed on this side (after its remote original was settled and let go). */
export function localState(state: 1 | 2, value: unknown): ResultState {
  return { rid: 0, state, value, awaited: false, used: false, drop: false, pulled: true, detached: true, sent: true }
}

/**
 * Runs an operation against a settled, detached result: walks the path on the local value; where
 * the walk meets a Remote, the rest of the operation goes to its peer.
 */
export function localOp(host: ProxyHost, op: Op, state: ResultState, path: Path, args: unknown[] | undefined): object {
  if (state.state === 2) return makeProxy({ host, base: 0, path: [], result: state, tracker: undefined })
  let parent: unknown
  let value = state.value
  let result: ResultState
  try {
    for (const key of path) {
      parent = value
      value = (value as Record<string | number, unknown>)[key]
    }
    const h = handleOf(value)
    if (h !== undefined && op !== 'get') return host.op(op, h, args)
    if (h !== undefined && thenable(h)) return value as object
    switch (op) {
      case 'get': result = localState(1, value); break
      case 'call': result = localState(1, Reflect.apply(value as () => unknown, parent, args ?? [])); break
      case 'new': result = localState(1, Reflect.construct(value as new () => unknown, args ?? [])); break
      default: throw new TypeError(`'${op}' on a value that was copied here: operate on the value itself`)
    }
  } catch (err) {
    result = localState(2, err)
  }
  return makeProxy({ host, base: 0, path: [], result, tracker: undefined })
}

/**
 * What `util.inspect` and `console.log` show: `Remote #12 (worker thread 3)` for a settled one,
 * `RemotePromise root.makeNode(…).child (pending, worker thread 3)` for a pending result and the
 * paths read on it.
 */
export function describe(h: Handle): string {
  const conn = h.host.connection as { transport?: string; peer?: string }
  const via = [conn.transport, conn.peer].filter(Boolean).join(' ')
  if (!thenable(h)) return `Remote ${h.base === 0 ? 'root' : `#${h.base}`}${via && ` (${via})`}`
  const r = h.result
  const state = r === undefined || r.state === 0 ? 'pending' : r.state === 1 ? 'fulfilled' : 'rejected'
  const base = r === undefined ? (h.base === 0 ? 'root' : `#${h.base}`) : originOf(r)
  return `RemotePromise ${base}${pathText(h.path)} (${state}${via && `, ${via}`})`
}

function originOf(r: ResultState, depth = 0): string {
  if (r.op === undefined) return 'a local value'
  // a long pipeline shows its last steps
  const target = r.from !== undefined && depth < 8 ? originOf(r.from, depth + 1) : r.at === 0 ? 'root' : r.at! > 0 ? `#${r.at}` : '…'

  const path = pathText(r.path ?? [])
  if (r.op === 'call') return `${target}${path}(…)`
  if (r.op === 'new') return `new ${target}${path}(…)`
  if (r.op === 'get') return `${target}${path}`
  return `${r.op} ${target}${path}`
}

function pathText(path: readonly (string | number)[]): string {
  return path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('')
}

/** The TypeError for using a Remote or RemotePromise where a plain value is wanted. */
function notAValue(h: Handle, what: string): never {
  const fix = thenable(h)
    ? 'await it first (`${await r.name}`, not `${r.name}`)'
    : 'the object stays on the far side: read what you need (`await r.name`) or copy it here with `await obtain(r)`'
  throw new TypeError(
    `${describe(h)} cannot be ${what}: ${fix}. A class instance crosses by reference; to send one by ` +
      'value, return copy(x) or a plain object from the far side.',
  )
}
