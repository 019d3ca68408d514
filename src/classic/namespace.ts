// Classic mode's namespace: one node:vm context per connection, shared by eval(), execute() and
// run(), and the conversion of what its code makes (objects of the context's own realm) into this
// realm's, so that results cross by value or by reference as any other value does.
import vm from 'node:vm'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { freeNames } from './scope.ts'

/** Globals of this process a namespace gets, besides `require` and `global` (where defined). */
const SHARED = [
  'console', 'process', 'Buffer', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'setImmediate',
  'clearImmediate', 'queueMicrotask', 'structuredClone', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder',
  'AbortController', 'AbortSignal', 'EventTarget', 'Event', 'fetch', 'performance', 'atob', 'btoa', 'crypto',
  'Blob', 'BroadcastChannel', 'MessageChannel', 'MessagePort',
] as const

const ERRORS: Record<string, ErrorConstructor> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
  AggregateError: AggregateError as unknown as ErrorConstructor,
}

/** The prototypes of a context's intrinsics, to recognize its values. */
interface Realm {
  Object: object
  Array: object
  Date: object
  RegExp: object
  Map: object
  Set: object
  Error: object
  ArrayBuffer: object
}

/** A `require` that resolves from the serving process's working directory, as `node -e` would. */
export function cwdRequire(): NodeJS.Require {
  return createRequire(join(process.cwd(), '[farside classic]'))
}

/**
 * The globals a classic namespace starts with: this process's `require` (resolving from its
 * working directory), `console`, `process`, `Buffer`, timers, the web globals Node has, `global`,
 * and `__name` (the helper esbuild and tsx insert into functions they compile, so that such
 * functions can be teleported). The language's own globals (Object, Promise, JSON, ...) are the
 * context's.
 */
function sandbox(): Record<string, unknown> {
  const g: Record<string, unknown> = {
    require: cwdRequire(),
    __name: (target: object, value: string) => Object.defineProperty(target, 'name', { value, configurable: true }),
  }
  for (const name of SHARED) if (name in globalThis) g[name] = (globalThis as Record<string, unknown>)[name]
  return g
}

export class Namespace {
  #context: vm.Context
  #realm: Realm

  constructor() {
    this.#context = vm.createContext(sandbox(), { name: 'farside classic' })
    this.#realm = vm.runInContext(
      'globalThis.global = globalThis; ({ Object: Object.prototype, Array: Array.prototype, Date: Date.prototype, ' +
        'RegExp: RegExp.prototype, Map: Map.prototype, Set: Set.prototype, Error: Error.prototype, ArrayBuffer: ArrayBuffer.prototype })',
      this.#context,
    ) as Realm
  }

  /** Runs `code` as a script in the namespace; its completion value, converted to this realm. */
  run(code: string, filename: string): unknown {
    let value: unknown
    try {
      value = vm.runInContext(code, this.#context, { filename })
    } catch (err) {
      throw this.adoptError(err)
    }
    return this.adopt(value)
  }

  /**
   * Calls the function whose source is `source` with `args`, in the namespace. Refuses, before
   * running anything, a function that uses a name the namespace does not define (a variable it
   * closed over where it was written), with a ReferenceError naming it.
   */
  teleport(source: string, args: unknown[]): unknown {
    if (/\{\s*\[native code\]\s*\}\s*$/.test(source)) {
      throw new TypeError('run() cannot teleport a native or bound function: it has no source to send')
    }
    const missing = freeNames(source).filter((name) => !this.defines(name))
    if (missing.length > 0) {
      const list = missing.map((n) => `'${n}'`).join(', ')
      throw new ReferenceError(
        `run(): the function uses ${list}, not defined on the peer: a teleported function takes only its source, ` +
          `not the variables it closes over; ${missing.length === 1 ? 'pass it as an argument (or define it' : 'pass them as arguments (or define them'} there with execute())`,
      )
    }
    const fn = this.#compile(source)
    let value: unknown
    try {
      value = Reflect.apply(fn, undefined, args)
    } catch (err) {
      throw this.adoptError(err)
    }
    return this.adopt(value)
  }

  /** Whether a name is bound in the namespace: a global of the context, or a top-level declaration of its scripts. */
  defines(name: string): boolean {
    try {
      return vm.runInContext(`try { void ${name}; true } catch { false }`, this.#context) === true
    } catch {
      return false
    }
  }

  /** A function from its source: an expression (function, arrow, class method shorthand). */
  #compile(source: string): (...args: unknown[]) => unknown {
    let fn: unknown
    try {
      fn = vm.runInContext(`(${source}\n)`, this.#context, { filename: 'run' })
    } catch {
      // a method's source (`name(a) { ... }`, `async *gen() {}`) is no expression: as an object literal's member it is
      try {
        const holder = vm.runInContext(`({ ${source}\n })`, this.#context, { filename: 'run' }) as object
        const key = Reflect.ownKeys(holder)[0]
        fn = key === undefined ? undefined : Object.getOwnPropertyDescriptor(holder, key)?.value
      } catch (err) {
        throw this.adoptError(err)
      }
    }
    if (typeof fn !== 'function') throw new TypeError('run() needs a function (its source must be a function or method)')
    return fn as (...args: unknown[]) => unknown
  }

  /**
   * A value the context made, as this realm's: plain objects, arrays, dates, regexps, maps, sets,
   * errors and buffers are rebuilt (deeply; shared parts and cycles kept) so that they cross by
   * value as theirs would; functions, promises and class instances stay as they are (by
   * reference; a promise is awaited as any thenable is).
   */
  adopt(value: unknown, seen = new Map<object, unknown>()): unknown {
    if (value === null || typeof value !== 'object') return value
    if (seen.has(value)) return seen.get(value)
    const r = this.#realm
    const proto = Object.getPrototypeOf(value)
    const v = value as any
    if (proto === r.Array) {
      const out: unknown[] = []
      seen.set(value, out)
      for (let i = 0; i < v.length; i++) out.push(this.adopt(v[i], seen))
      return out
    }
    if (proto === r.Object) {
      const out: Record<string, unknown> = {}
      seen.set(value, out)
      for (const k of Object.keys(v)) Object.defineProperty(out, k, { value: this.adopt(v[k], seen), writable: true, enumerable: true, configurable: true })
      return out
    }
    if (proto === r.Map) {
      const out = new Map()
      seen.set(value, out)
      for (const [k, x] of v) out.set(this.adopt(k, seen), this.adopt(x, seen))
      return out
    }
    if (proto === r.Set) {
      const out = new Set()
      seen.set(value, out)
      for (const x of v) out.add(this.adopt(x, seen))
      return out
    }
    if (proto === r.Date) return new Date(v.getTime())
    if (proto === r.RegExp) return new RegExp(v.source, v.flags)
    if (proto === r.ArrayBuffer) return new Uint8Array(v).slice().buffer
    if (isIn(value, r.Error)) return this.adoptError(value, seen)
    return value
  }

  /** A thrown value, as this realm's: an error of the context becomes one of the same built-in class here. */
  adoptError(err: unknown, seen = new Map<object, unknown>()): unknown {
    if (err === null || typeof err !== 'object' || !isIn(err, this.#realm.Error)) return this.adopt(err, seen)
    const e = err as Error & Record<string, unknown>
    const Cls = Object.hasOwn(ERRORS, e.name) ? ERRORS[e.name]! : Error
    const out = new Cls(String(e.message)) as Error & Record<string, unknown>
    seen.set(err, out)
    if (Cls === Error && e.name !== 'Error') Object.defineProperty(out, 'name', { value: e.name, writable: true, configurable: true })
    Object.defineProperty(out, 'stack', { value: e.stack, writable: true, configurable: true })
    if ('cause' in e) Object.defineProperty(out, 'cause', { value: this.adopt(e.cause, seen), writable: true, configurable: true })
    for (const k of Object.keys(e)) out[k] = this.adopt(e[k], seen)
    return out
  }
}

function isIn(value: object, proto: object): boolean {
  return Object.prototype.isPrototypeOf.call(proto, value)
}
