// The error classes farside raises. Each has a stable `code`; every layer may import this file.

/** Base class of every error farside itself raises. */
export class FarsideError extends Error {
  /** A stable machine-readable code, e.g. `ERR_CONNECTION_CLOSED`. */
  readonly code: string
  constructor(message: string, code: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
  override get name(): string {
    return this.constructor.name
  }
}

/**
 * A remote throw of an Error whose class has no local counterpart. `name`, `message`, `code`,
 * `cause` and other own enumerable properties are those of the remote error; `remoteClass` is the
 * name of its constructor over there.
 */
export class RemoteError extends Error {
  remoteClass: string
  code?: unknown
  constructor(message: string, remoteClass: string) {
    super(message)
    this.remoteClass = remoteClass
  }
}

/** Why a connection closed, as `conn.closed` resolves and `ConnectionClosedError` carries it. */
export interface CloseInfo {
  /** `local`: this side called close(); `peer`: the peer closed or went away; `error`: a fault. */
  reason: 'local' | 'peer' | 'error'
  /** Exit code of the worker or child process, where there is one. */
  exitCode?: number | null
  /** Signal that ended the child process, where there is one. */
  signal?: string | null
  /** The error behind a close for `error` (protocol fault, socket error, worker error). */
  error?: unknown
}

/** The connection is closed or closed while the operation was pending. */
export class ConnectionClosedError extends FarsideError {
  readonly exitCode?: number | null
  readonly signal?: string | null
  readonly reason: CloseInfo['reason']
  constructor(info: CloseInfo, message?: string) {
    super(message ?? describeClose(info), 'ERR_CONNECTION_CLOSED', info.error === undefined ? undefined : { cause: info.error })
    this.reason = info.reason
    if (info.exitCode !== undefined) this.exitCode = info.exitCode
    if (info.signal !== undefined) this.signal = info.signal
  }
}

function describeClose(info: CloseInfo): string {
  let text = info.reason === 'local' ? 'connection closed locally' : info.reason === 'peer' ? 'connection closed by the peer' : 'connection failed'
  if (info.exitCode != null) text += ` (exit code ${info.exitCode})`
  if (info.signal) text += ` (signal ${info.signal})`
  if (info.error instanceof Error) text += `: ${info.error.message}`
  return text
}

/** An operation or connection ran past its time limit. */
export class TimeoutError extends FarsideError {
  constructor(message = 'operation timed out') {
    super(message, 'ERR_TIMEOUT')
  }
}

/** An operation was cancelled through an AbortSignal. */
export class AbortError extends FarsideError {
  constructor(message = 'operation aborted', options?: { cause?: unknown }) {
    super(message, 'ERR_ABORTED', options)
  }
}

/** The peer broke the protocol: a malformed or oversized frame, a version mismatch, a limit crossed. */
export class ProtocolError extends FarsideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_PROTOCOL', options)
  }
}

/** The serving side's access policy refused the operation. */
export class AccessError extends FarsideError {
  constructor(message: string) {
    super(message, 'ERR_ACCESS')
  }
}

/** The peer failed authentication, or refused ours. */
export class AuthenticationError extends FarsideError {
  constructor(message = 'authentication failed', options?: { cause?: unknown }) {
    super(message, 'ERR_AUTHENTICATION', options)
  }
}

/** A discovery registry could not be reached, refused, or knows no server for a service name. */
export class DiscoveryError extends FarsideError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_DISCOVERY', options)
  }
}

/** Local classes that a remote error of the same constructor name maps back to. */
export const errorClasses: Record<string, new (message: string) => Error> = {
  Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError,
  TimeoutError: TimeoutError as new (message: string) => Error,
  AbortError: AbortError as new (message: string) => Error,
  ProtocolError: ProtocolError as new (message: string) => Error,
  AccessError: AccessError as new (message: string) => Error,
  AuthenticationError: AuthenticationError as new (message: string) => Error,
}

/**
 * The `code` of the RangeError a transport's `send` throws for a message over the peer's frame
 * limit (before anything was written): the connection then splits the batch, or fails the one
 * message that is too large on its own.
 */
export const FRAME_TOO_LARGE = 'ERR_FARSIDE_FRAME_TOO_LARGE'

/**
 * The TypeError for an unknown option key: names it and, when one is close, the nearest name of
 * `known` ("unknown connection option 'timout' (did you mean 'timeout'?)"). `prefix` goes before
 * both names ('limits.'). Builds the error; the caller throws it.
 */
export function unknownOption(kind: string, key: string, known: Iterable<string>, prefix = ''): TypeError {
  const near = nearestName(key, known)
  return new TypeError(`unknown ${kind} '${prefix}${key}'${near === undefined ? '' : ` (did you mean '${prefix}${near}'?)`}`)
}

/**
 * The name of `known` nearest to `name`, ignoring case, if it is at most 2 edits away (an insert,
 * delete, substitution or swap of neighbours each count 1); a case-only difference is 0 edits.
 * Undefined if none is that close; on a tie, the first.
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  const a = name.toLowerCase()
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of known) {
    const b = candidate.toLowerCase()
    // a length gap alone past the bound: skip the table (and a long key costs nothing)
    if (Math.abs(a.length - b.length) >= bestDistance) continue
    const d = editDistance(a, b)
    if (d < bestDistance) [best, bestDistance] = [candidate, d]
  }
  return best
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
function editDistance(a: string, b: string): number {
  // rows i-2, i-1 and i of the (a.length + 1) x (b.length + 1) table
  let before: number[] = []
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1)
      row.push(d)
    }
    ;[before, prev] = [prev, row]
  }
  return prev[b.length]!
}
