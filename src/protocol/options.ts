// Connection options: their defaults and the checks that refuse bad ones with a TypeError that
// names the key. Exported so that endpoints and server/ validate before they start anything.
import type { ConnectionOptions } from '../types.ts'
import { checkSecret, checkUser, type Secret, type SecretLookup } from './auth.ts'
import { unknownOption } from '../errors.ts'

/** The limits a connection applies when its options do not say. */
export const DEFAULT_LIMITS = {
  maxFrameBytes: 64 * 1024 * 1024,
  maxExports: 1_000_000,
  maxInFlight: 100_000,
  handshakeTimeout: 30_000,
  handshakeBytes: 16 * 1024,
  maxOutgoingBytes: 128 * 1024 * 1024,
  maxAttached: 100,
  maxConnections: 1000,
  maxStreams: 1024,
  streamWindow: 1024 * 1024,
} as const

/** The heartbeat endpoints over sockets and child processes use unless told: 15 s. */
export const DEFAULT_HEARTBEAT = 15_000

const MAX_TIMER = 2 ** 31 - 1

/** Options with their defaults applied, as the parts of a connection read them. */
export interface Resolved {
  root: object | undefined
  stacks: boolean
  localStacks: boolean
  allowSet: boolean
  allowDelete: boolean
  /** Serve classic mode (src/classic) to the peer. */
  classic: boolean
  /** Default per-operation timeout in ms; undefined for none. */
  timeout: number | undefined
  /** Heartbeat in ms; 0 for none. */
  heartbeat: number
  /** The shared secret (or its lookup by the peer's user name); undefined for none. */
  secret: Secret | SecretLookup | undefined
  /** The user name this side authenticates as. */
  user: string | undefined
  limits: { -readonly [K in keyof typeof DEFAULT_LIMITS]: number }
}

const KEYS = new Set(['root', 'allowSet', 'allowDelete', 'classic', 'stacks', 'localStacks', 'limits', 'registry', 'timeout', 'heartbeat', 'secret', 'user'])
const LIMIT_KEYS = new Set(Object.keys(DEFAULT_LIMITS))

/**
 * Throws TypeError for options a connection would refuse: an unknown key (named, with the nearest
 * known name if one is close), a wrong type, a limit that is not a positive number. `extra` lists
 * keys the caller (an endpoint) takes itself: accepted, and suggested for a misspelt key.
 */
export function validateOptions(o: ConnectionOptions, extra: readonly string[] = []): void {
  if (o === null || typeof o !== 'object') throw new TypeError('connection options must be an object')
  for (const k of Object.keys(o)) {
    if (!KEYS.has(k) && !extra.includes(k)) throw unknownOption('connection option', k, [...KEYS, ...extra])
  }
  if (o.root !== undefined && (o.root === null || (typeof o.root !== 'object' && typeof o.root !== 'function'))) {
    throw new TypeError('options.root must be an object or function')
  }
  for (const k of ['allowSet', 'allowDelete', 'classic', 'stacks', 'localStacks'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`options.${k} must be a boolean`)
  }
  checkTime('timeout', o.timeout)
  checkSecret('secret', o.secret)
  checkUser('user', o.user)
  if (o.user !== undefined && o.secret === undefined) throw new TypeError('options.user needs options.secret (the user proves who it is with it)')
  if (o.heartbeat !== undefined && o.heartbeat !== false) checkTime('heartbeat', o.heartbeat)
  if (o.limits !== undefined) {
    if (o.limits === null || typeof o.limits !== 'object') throw new TypeError('options.limits must be an object')
    for (const [k, v] of Object.entries(o.limits)) {
      if (!LIMIT_KEYS.has(k)) throw unknownOption('limit', k, LIMIT_KEYS, 'limits.')
      if (v !== undefined && (typeof v !== 'number' || !(v > 0))) throw new TypeError(`options.limits.${k} must be a positive number`)
    }
    checkTime('limits.handshakeTimeout', o.limits.handshakeTimeout)
    const w = o.limits.streamWindow
    if (w !== undefined && !(Number.isInteger(w) && w >= 2048 && w <= 2 ** 30)) throw new TypeError('options.limits.streamWindow must be a whole number of bytes from 2048 to 2^30')
    for (const k of ['maxFrameBytes', 'handshakeBytes'] as const) {
      const v = o.limits[k]
      if (v !== undefined && !(Number.isInteger(v) && v >= 1024 && v < 2 ** 32)) throw new TypeError(`options.limits.${k} must be a whole number of bytes from 1024 to 2^32 - 1`)
    }
  }
}

/** Throws TypeError unless `v` is undefined or a usable timer delay in ms. */
export function checkTime(name: string, v: unknown): void {
  if (v === undefined) return
  if (typeof v !== 'number' || !(v > 0) || v > MAX_TIMER) throw new TypeError(`options.${name} must be a number of ms between 1 and ${MAX_TIMER}`)
}

/** Applies the defaults. Call after validateOptions. */
export function resolveOptions(o: ConnectionOptions): Resolved {
  const limits = { ...DEFAULT_LIMITS } as Resolved['limits']
  for (const [k, v] of Object.entries(o.limits ?? {})) if (v !== undefined) (limits as unknown as Record<string, number>)[k] = v
  return {
    root: o.root,
    stacks: o.stacks ?? true,
    localStacks: o.localStacks ?? true,
    allowSet: o.allowSet ?? false,
    allowDelete: o.allowDelete ?? false,
    classic: o.classic ?? false,
    timeout: o.timeout,
    heartbeat: o.heartbeat === undefined || o.heartbeat === false ? 0 : o.heartbeat,
    secret: o.secret,
    user: o.user,
    limits,
  }
}
