// How an Error crosses: class name, name, message, code, cause, own enumerable properties and,
// unless the sender hides them, its stack. Built-in and farside classes come back as themselves.
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
    if (typeof stack === 'string') out.s = stack
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
    err = new RemoteError(msg, c)
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

/** Appends the local stack (where the operation was awaited) to a remote error's stack. */
export function appendLocalStack(err: unknown, local: string | undefined): void {
  if (local === undefined || !(err instanceof Error) || typeof err.stack !== 'string') return
  const at = local.indexOf('\n')
  err.stack += '\n    --- local ---' + (at === -1 ? '' : local.slice(at))
}
