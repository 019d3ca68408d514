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

export function encodeError(err: Error, stacks: boolean, encode: (v: unknown) => unknown): ErrorMarker {
  const out: ErrorMarker = { '\u0000': 'e', c: err.constructor?.name ?? 'Error', n: String(err.name), m: String(err.message) }
  if (stacks && typeof err.stack === 'string') out.s = err.stack
  if (Object.hasOwn(err, 'cause')) out.x = encode(err.cause)
  let props: Record<string, unknown> | undefined
  for (const k of Object.keys(err)) {
    if (skip.has(k)) continue
    ;(props ??= {})[k] = encode((err as unknown as Record<string, unknown>)[k])
  }
  // `code` is often a prototype getter (Node's errors); keep it.
  const code = (err as { code?: unknown }).code
  if (code !== undefined && (props === undefined || !('code' in props))) (props ??= {}).code = encode(code)
  if (props !== undefined) out.p = props
  return out
}

/** Rebuilds an error; `decode` decodes nested values (cause, properties). */
export function decodeError(m: ErrorMarker, decode: (v: unknown) => unknown): Error {
  const Cls = Object.hasOwn(errorClasses, m.c) ? errorClasses[m.c]! : undefined
  let err: Error
  if (Cls !== undefined) {
    err = Object.create(Cls.prototype) as Error
    Object.defineProperty(err, 'message', { value: m.m, writable: true, configurable: true })
    if (m.n !== Cls.prototype.name && !(m.c === m.n)) Object.defineProperty(err, 'name', { value: m.n, writable: true, configurable: true })
  } else {
    err = new RemoteError(m.m, m.c)
    Object.defineProperty(err, 'name', { value: m.n, writable: true, configurable: true, enumerable: false })
  }
  const remoteStack = m.s ?? `${m.n}: ${m.m}\n    at <remote: stack hidden>`
  Object.defineProperty(err, 'stack', { value: remoteStack, writable: true, configurable: true })
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
