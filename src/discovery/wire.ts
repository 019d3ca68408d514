// The registry's wire (RPyC's rpyc_registry, in JSON): one request, one answer, the same over a
// UDP datagram and a line of TCP. Parsing here refuses anything malformed; nothing else reads it.

/** Where a registry listens (TCP and UDP on the same port). RPyC's port by default: 18811. */
export interface RegistryAddress {
  host?: string
  port?: number
  /** How to reach it: 'tcp' (default: refused or down is a clear error at once) or 'udp'. */
  protocol?: 'tcp' | 'udp'
  /** How long to wait for an answer, in ms. Default 2000 (over UDP: split across 3 tries). */
  timeout?: number
}

/** A server of a service, as discover() gives it. */
export interface ServiceAddress {
  host: string
  port: number
}

export const REGISTRY_PORT = 18811
/** A request or an answer is at most this long (RPyC's MAX_DGRAM_SIZE: one Ethernet frame). */
export const MAX_MESSAGE = 1500
/** Servers one query answer lists at most (the freshest), so the answer fits MAX_MESSAGE. */
export const MAX_ANSWER = 24
const MAGIC = 'farside-registry/1'
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

// {"m": MAGIC, "op": "register", "name", "port", "host"?}   -> {"ok": true, "expiry": ms}
// {"m": MAGIC, "op": "unregister", "name", "port", "host"?} -> {"ok": true}
// {"m": MAGIC, "op": "query", "name"}                        -> {"ok": true, "servers": [{host, port}]}
// any refusal                                                -> {"ok": false, "error": text}
export type Request =
  | { op: 'register' | 'unregister'; name: string; port: number; host?: string }
  | { op: 'query'; name: string }

export type Answer = { ok: true; expiry?: number; servers?: ServiceAddress[] } | { ok: false; error: string }

/** Throws TypeError unless `name` is a service name: 1–64 of letters, digits, `.`, `_`, `-`. */
export function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`a service name is 1 to 64 letters, digits, '.', '_' or '-' (starting with a letter or digit), not ${JSON.stringify(name)}`)
  }
}

/** The bytes of a request. */
export function encodeRequest(req: Request): Buffer {
  return Buffer.from(JSON.stringify({ m: MAGIC, ...req }))
}

/** A request read from bytes, or undefined for anything that is not one (ignored, not answered). */
export function decodeRequest(bytes: Buffer): Request | undefined {
  if (bytes.length > MAX_MESSAGE) return undefined
  let v: Record<string, unknown>
  try {
    v = JSON.parse(bytes.toString('utf8'))
  } catch {
    return undefined
  }
  if (v === null || typeof v !== 'object' || v.m !== MAGIC || typeof v.name !== 'string' || !NAME.test(v.name)) return undefined
  if (v.op === 'query') return { op: 'query', name: v.name }
  if (v.op !== 'register' && v.op !== 'unregister') return undefined
  if (!Number.isInteger(v.port) || (v.port as number) < 1 || (v.port as number) > 65535) return undefined
  if (v.host !== undefined && (typeof v.host !== 'string' || v.host.length > 255)) return undefined
  return { op: v.op, name: v.name, port: v.port as number, ...(v.host !== undefined ? { host: v.host as string } : {}) }
}

/** The bytes of an answer. */
export function encodeAnswer(a: Answer): Buffer {
  return Buffer.from(JSON.stringify(a))
}

/** An answer read from bytes; throws if the bytes are not one (the registry is not farside's). */
export function decodeAnswer(bytes: Buffer): Answer {
  const v = JSON.parse(bytes.toString('utf8')) as Answer
  if (v === null || typeof v !== 'object' || typeof v.ok !== 'boolean') throw new Error('not a farside registry answer')
  return v
}
