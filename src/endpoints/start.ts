// The last step of worker(), fork() and spawn(): wait for the handshake and, when the peer never
// started farside, say so in words that point at the fix (the core only knows "no handshake").
import { DEFAULT_LIMITS } from '../protocol/options.ts'
import { ConnectionClosedError, ProtocolError, type CloseInfo } from '../errors.ts'
import type { Connection } from '../protocol/connection.ts'
import type { ConnectionOptions } from '../types.ts'

/** What a starter knows of the peer it started. */
export interface StartedPeer {
  /** 'worker' or 'child', for the messages. */
  kind: string
  /** Whether the peer has sent anything at all yet (then it did start farside, or something else). */
  spoke(): boolean
}

/**
 * Resolves with `conn` once its handshake is done. Else closes it (stopping the peer) and
 * rethrows; a peer that never sent anything gets a ConnectionClosedError with a hint instead,
 * carrying the same close info (exit code, signal, cause):
 * - it exited first: "the child exited (code 0) before it called serveParent()", followed by
 *   the gist of its error where there is one (the worker's error, the child's stderr);
 * - the handshake timed out: "the worker did not start farside within 30000 ms: does it call
 *   serveParent()?" (the core's ProtocolError is the cause).
 */
export async function started<T>(conn: Connection<T>, peer: StartedPeer, options: ConnectionOptions): Promise<Connection<T>> {
  try {
    await conn.ready
  } catch (err) {
    await conn.close()
    throw peer.spoke() ? err : hinted(err, peer, options)
  }
  return conn
}

function hinted(err: unknown, peer: StartedPeer, options: ConnectionOptions): unknown {
  if (!(err instanceof ConnectionClosedError) || err.reason === 'local') return err
  const info: CloseInfo = { reason: err.reason }
  if (err.exitCode !== undefined) info.exitCode = err.exitCode
  if (err.signal !== undefined) info.signal = err.signal
  if (err.cause !== undefined) info.error = err.cause
  if (err.exitCode != null || err.signal != null) {
    const how = err.signal != null ? `signal ${err.signal}` : `code ${err.exitCode}`
    const gist = gistOf(err.cause)
    return new ConnectionClosedError(info, `the ${peer.kind} exited (${how}) before it called serveParent()${gist ? `: ${gist}` : ''}`)
  }
  // nothing came from a live peer: the only ProtocolError then is the handshake timeout
  if (err.cause instanceof ProtocolError) {
    const ms = options.limits?.handshakeTimeout ?? DEFAULT_LIMITS.handshakeTimeout
    return new ConnectionClosedError(info, `the ${peer.kind} did not start farside within ${ms} ms: does it call serveParent()?`)
  }
  return err
}

/**
 * One line that says what went wrong: the error line of a child's stderr (Node prints
 * `SyntaxError: ...`, `Error [ERR_MODULE_NOT_FOUND]: ...` after the source excerpt; none if it
 * printed no such line), else the first line of an error's message.
 */
function gistOf(cause: unknown): string | undefined {
  if (!(cause instanceof Error)) return undefined
  const stderr = (cause as { stderr?: unknown }).stderr
  if (typeof stderr === 'string') {
    const lines = stderr.split('\n').map((l) => l.trim())
    return lines.findLast((l) => /^(?:[A-Z]\w*)?(?:Error|Exception)\b[^:]*:/.test(l))
  }
  return cause.message.split('\n')[0] || undefined
}
