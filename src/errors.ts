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
