// How an Error crosses: class name, name, message, code, cause, own enumerable properties and,
// unless the sender hides them, its stack. Built-in and farside classes come back as themselves.
// Also the stacks a rejection shows: the remote part, then where the call was made, without
// farside's own frames.
import { fileURLToPath, pathToFileURL } from 'node:url'
import { RemoteError, errorClasses } from '../errors.ts'

// {TAG:"e", c: constructor name, n: name, m: message, s: stack or undefined, x: cause (encoded,
//  present only if the error had one), p: other own enumerable properties (encoded) or undefined}
export interface ErrorMarker {
  '\u0000': 'e'
  c: string
  n: string
  m: string
  s?: string
  x?: unknown
  p?: Record<string, unknown>
}

const skip = new Set(['stack', 'message', 'name', 'cause'])

// A getter of a hostile (or just broken) error may throw: the error must still cross.
const unread = Symbol('unread')
function read(err: object, key: string): unknown {
  try {
    return (err as Record<string, unknown>)[key]
  } catch {
    return unread
  }
}

function text(v: unknown, fallback: string): string {
  if (typeof v === 'string') return v
  if (v === unread) return fallback
  try {
    return String(v)
  } catch {
    return fallback
  }
}

/**
 * Encodes an error; `encode` encodes nested values (cause, properties). `created` receives the
 * marker before anything nested is encoded, so a cycle back to `err` (its own cause, a property
 * that refers to it) finds it in the encoder's memo instead of recursing forever. A getter that
 * throws, or a message that is not a string, never makes this throw: the field falls back to a
 * description, or is left out (stack, cause, properties). Throws only what `encode` throws.
 */
export function encodeError(err: Error, stacks: boolean, encode: (v: unknown) => unknown, created?: (m: ErrorMarker) => void): ErrorMarker {
  const ctor = read(err, 'constructor')
  const ctorName = typeof ctor === 'function' ? read(ctor, 'name') : undefined
  const c = typeof ctorName === 'string' && ctorName !== '' ? ctorName : 'Error'
  const out: ErrorMarker = { '\u0000': 'e', c, n: text(read(err, 'name'), c), m: text(read(err, 'message'), '(the message could not be read)') }
  created?.(out)
  if (stacks) {
    const stack = read(err, 'stack')
    if (typeof stack === 'string') out.s = stripOwnFrames(stack)
  }
  let keys: string[] = []
  try {
    if (Object.hasOwn(err, 'cause')) {
      const cause = read(err, 'cause')
      if (cause !== unread) out.x = encode(cause)
    }
    keys = Object.keys(err)
  } catch {
    // a Proxy around an error whose traps throw: what was read so far crosses
  }
  let props: Record<string, unknown> | undefined
  for (const k of keys) {
    if (skip.has(k)) continue
    const v = read(err, k)
    if (v !== unread) (props ??= {})[k] = encode(v)
  }
  // `code` is often a prototype getter (Node's errors); keep it.
  const code = read(err, 'code')
  if (code !== undefined && code !== unread && (props === undefined || !('code' in props))) (props ??= {}).code = encode(code)
  if (props !== undefined) out.p = props
  return out
}

/**
 * Rebuilds an error; `decode` decodes nested values (cause, properties). `created` receives the
 * error before anything nested is decoded, so that a cycle on the wire comes back as the same
 * cycle (the decoded error's cause is the decoded error itself).
 */
export function decodeError(m: ErrorMarker, decode: (v: unknown) => unknown, created?: (err: Error) => void): Error {
  const c = typeof m.c === 'string' ? m.c : 'Error'
  const n = typeof m.n === 'string' ? m.n : c
  const msg = typeof m.m === 'string' ? m.m : ''
  const Cls = Object.hasOwn(errorClasses, c) ? errorClasses[c]! : undefined
  let err: Error
  if (Cls !== undefined) {
    err = Object.create(Cls.prototype) as Error
    Object.defineProperty(err, 'message', { value: msg, writable: true, configurable: true })
    if (n !== Cls.prototype.name && !(c === n)) Object.defineProperty(err, 'name', { value: n, writable: true, configurable: true })
  } else {
    err = remoteError(msg, c)
    Object.defineProperty(err, 'name', { value: n, writable: true, configurable: true, enumerable: false })
  }
  const remoteStack = typeof m.s === 'string' ? m.s : `${n}: ${msg}\n    at <remote: stack hidden>`
  Object.defineProperty(err, 'stack', { value: remoteStack, writable: true, configurable: true })
  created?.(err)
  if ('x' in m) Object.defineProperty(err, 'cause', { value: decode(m.x), writable: true, configurable: true })
  if (m.p !== undefined) {
    // defineProperty: a '__proto__' key from the peer must not become this error's prototype
    for (const k of Object.keys(m.p)) Object.defineProperty(err, k, { value: decode(m.p[k]), writable: true, enumerable: true, configurable: true })
  }
  return err
}

// Its own stack is replaced at once: capturing it, and formatting it (which V8 does when the
// property is redefined), cost ~7 µs per decoded error, ~0.8 µs without frames.
function remoteError(message: string, remoteClass: string): RemoteError {
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    return new RemoteError(message, remoteClass)
  } finally {
    Error.stackTraceLimit = limit
  }
}

// ---- stacks ----

/**
 * Where an operation was issued, from captureCallSite(). Opaque: V8 keeps the frames and formats
 * them only when `stack` is first read. Any object with a string `stack` will do.
 */
export type CallSite = { readonly stack?: unknown }

// Frames captured per call site. Capture cost grows with it (see the report in the commit that
// set it); a program that raised Error.stackTraceLimit above Node's default gets its limit.
const SITE_FRAMES = 8
const NODE_DEFAULT_LIMIT = 10
const NO_SITE: CallSite = Object.freeze({})

/**
 * Captures the current call site cheaply: the frames are recorded, not formatted. `below` is the
 * public function the user called (it must be on the stack); it and everything above it are cut,
 * so the site starts at the user's frame; by default the cut is at the caller of
 * captureCallSite. At most 8 frames, or Error.stackTraceLimit when the program raised it above
 * 10; nothing at all when the program switched stacks off (limit 0 or not a number).
 */
export function captureCallSite(below?: (...args: never[]) => unknown): CallSite {
  const limit = Error.stackTraceLimit
  if (typeof limit !== 'number' || !(limit > 0)) return NO_SITE
  const site = {}
  Error.stackTraceLimit = limit > NODE_DEFAULT_LIMIT ? limit : Math.min(limit, SITE_FRAMES)
  try {
    Error.captureStackTrace(site, below ?? captureCallSite)
  } finally {
    Error.stackTraceLimit = limit
  }
  return site
}

// One local part per error: an error shared by several rejected calls (a closed connection
// rejects all of them with one error) keeps the first call's site, and getters never nest.
class LocalPart {
  done = false
  built: unknown = undefined
  constructor(
    readonly err: Error,
    readonly own: PropertyDescriptor | undefined,
    readonly site: CallSite | string,
  ) {}
}

// The part is stamped on the error as a private field (a base constructor that returns its
// argument makes the subclass add its fields to that object): invisible to the error's users,
// and this runs on every rejection, printed or not. Measured per append: private field ~0.35 µs,
// symbol property ~0.5 µs, WeakMap ~1.5 µs (its entries for short-lived errors cost at GC),
// per-error accessor closures +0.4 µs.
class Stamp {
  constructor(target: object) {
    return target
  }
}
class LocalPartOf extends Stamp {
  #part: LocalPart
  private constructor(err: Error, part: LocalPart) {
    super(err)
    this.#part = part
  }
  static stamp(err: Error, part: LocalPart): void {
    new LocalPartOf(err, part)
  }
  /** The part of `obj`, or of the error it inherits from. */
  static of(obj: object): LocalPart | undefined {
    for (let o: object | null = obj; o !== null; o = Object.getPrototypeOf(o) as object | null) {
      if (#part in o) return (o as LocalPartOf).#part
    }
    return undefined
  }
  static has(err: object): boolean {
    return #part in err
  }
}

function settle(p: LocalPart, value: unknown): void {
  p.built = value
  p.done = true
  try {
    Object.defineProperty(p.err, 'stack', { value, writable: true, configurable: true, enumerable: p.own?.enumerable ?? false })
  } catch {
    // frozen since: the accessor stays and serves `built`
  }
}

const localStackAccessor = {
  get(this: object): unknown {
    const p = LocalPartOf.of(this)
    if (p === undefined) return undefined
    if (!p.done) {
      const { err, own, site } = p
      let remote: unknown
      try {
        remote = own === undefined ? Reflect.get(Object.getPrototypeOf(err) as object, 'stack', err) : 'value' in own ? own.value : own.get?.call(err)
      } catch {
        remote = undefined
      }
      settle(p, typeof remote === 'string' ? joinStacks(remote, typeof site === 'string' ? site : site.stack) : remote)
    }
    return p.built
  },
  set(this: object, value: unknown): void {
    const p = LocalPartOf.of(this)
    if (p !== undefined) settle(p, value)
  },
}

/**
 * Makes `err.stack` its current stack (the remote part) followed by `    --- local ---` and the
 * frames of `site` (a CallSite, or a formatted stack whose first line is a header), both without
 * farside's own frames and the remote part without the Node-internal frames after its last other
 * frame (the receive loop); if that leaves no frame at all, both parts stay whole. Lazy: `stack`
 * becomes an accessor that builds the string on first read and then turns into a plain data
 * property, so a rejection nobody prints formats nothing. Setting `stack` replaces it. (V8
 * formats an error's own captured stack when its property is redefined: a locally made error,
 * e.g. a TimeoutError, pays that once; a decoded error has nothing left to format.)
 * Does nothing for a non-Error, an undefined or empty site, an error whose `stack` cannot be
 * redefined, or an error that already has a local part. Never throws.
 */
export function appendLocalStack(err: unknown, site: CallSite | string | undefined): void {
  if (site === undefined || site === NO_SITE || !(err instanceof Error) || LocalPartOf.has(err)) return
  const own = Object.getOwnPropertyDescriptor(err, 'stack')
  if (own === undefined ? !Object.isExtensible(err) : !own.configurable) return
  LocalPartOf.stamp(err, new LocalPart(err, own, site))
  Object.defineProperty(err, 'stack', { configurable: true, enumerable: own?.enumerable ?? false, get: localStackAccessor.get, set: localStackAccessor.set })
}

function joinStacks(remote: string, local: unknown): string {
  if (typeof local !== 'string') return remote
  const at = local.indexOf('\n')
  if (at === -1) return remote
  const localFrames = local.slice(at + 1)
  const r = strip(remote, true)
  const l = strip(localFrames, false)
  if (r.frames + l.frames === 0) return `${remote}\n    --- local ---\n${localFrames}`
  return l.frames === 0 ? r.text : `${r.text}\n    --- local ---\n${l.text}`
}

/**
 * A stack without farside's own frames and without the Node-internal frames that follow the
 * last other frame (the receive loop a served call ran in). Unchanged if that would leave none.
 */
export function stripOwnFrames(stack: string): string {
  const r = strip(stack, true)
  return r.frames === 0 ? stack : r.text
}

// Frames whose file is in this package's src/ or dist/, as a path and as a file URL (the form
// ESM frames use). The location comes from this module's own URL, which the build rewrites for
// its CJS output; it is recognised only where this module sits in the package's own layout
// (src/codec/errors.ts under a TypeScript loader, dist/index.js|cjs or a dist/chunks/ file), so a
// bundle that inlined farside into an application's file never strips the application's frames.
const ownPrefixes = ownFilePrefixes(import.meta.url)

/** Exported for tests: the frame locations counted as farside's own for a module at `url`. */
export function ownFilePrefixes(url: string): string[] {
  let file: string
  try {
    file = fileURLToPath(url)
  } catch {
    return []
  }
  const m = /^(.*)([\\/])(?:src[\\/]codec[\\/]errors\.ts|dist[\\/](?:index\.c?js|chunks[\\/][^\\/]+\.c?js))$/.exec(file)
  if (m === null) return []
  const [, root, sep] = m as unknown as [string, string, string]
  const url0 = pathToFileURL(root).href
  return [`${root}${sep}src${sep}`, `${root}${sep}dist${sep}`, `${url0}/src/`, `${url0}/dist/`]
}

const FRAME = /^\s+at /

// "    at f (file:1:2)", "    at file:1:2", "    at eval (eval at g (file:1:2), <anonymous>:1:1)"
function location(line: string): string {
  const body = line.slice(line.indexOf('at ') + 3)
  if (!body.endsWith(')')) return body
  let depth = 0
  for (let i = body.length - 1; i >= 0; i--) {
    if (body[i] === ')') depth++
    else if (body[i] === '(' && --depth === 0) return body.slice(i + 1, -1)
  }
  return body
}

function isOwn(loc: string, prefixes: readonly string[]): boolean {
  for (const p of prefixes) if (loc.startsWith(p)) return true
  return false
}

/** Exported for tests: `stack` without frames under `prefixes` (and trailing `node:` frames). */
export function strip(stack: string, trailingNode: boolean, prefixes: readonly string[] = ownPrefixes): { text: string; frames: number } {
  const out: string[] = []
  let frames = 0
  // a section is a run of frames; a non-frame line (a header, `--- local ---`) ends one
  let lastOther = -1
  let inFrames = false
  const endSection = () => {
    if (!trailingNode || !inFrames) return
    while (out.length - 1 > lastOther && FRAME.test(out[out.length - 1]!)) {
      out.pop()
      frames--
    }
  }
  for (const line of stack.split('\n')) {
    if (!FRAME.test(line)) {
      endSection()
      inFrames = false
      out.push(line)
      lastOther = out.length - 1
      continue
    }
    inFrames = true
    const loc = location(line)
    if (isOwn(loc, prefixes)) continue
    out.push(line)
    frames++
    if (!loc.startsWith('node:')) lastOther = out.length - 1
  }
  endSection()
  return { text: out.join('\n'), frames }
}
