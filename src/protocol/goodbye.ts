// Reading and writing the wire's small verdicts: a goodbye's reason (why a side gave up on a
// connection, [BYE, reason]) and the ids other messages name, checked before they are used.
import { AuthenticationError, ProtocolError, type CloseInfo } from '../errors.ts'
import { WireFault } from './fault.ts'
import type { Id } from './messages.ts'

/** A table id from the wire: an integer, or the message is broken (unknown ids are fine). */
export function idOf(v: unknown): Id {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new WireFault('a message names a bad id')
  return v
}

/** Longest reason a goodbye carries. */
const MAX_REASON = 300

/** The goodbye's reason for a fault: the error's own message, short. */
export function reasonText(error: Error): string {
  const m = typeof error.message === 'string' ? error.message : 'a protocol error'
  return m.length > MAX_REASON ? `${m.slice(0, MAX_REASON)}…` : m
}

/** How a peer's goodbye closes this side: 'close' is a plain close; anything else says why. */
export function byeInfo(reason: unknown): CloseInfo {
  if (reason === 'close' || typeof reason !== 'string') return { reason: 'peer' }
  if (reason === 'auth') return { reason: 'error', error: new AuthenticationError('authentication failed: the peer refused this side') }
  const text = reason.length > MAX_REASON ? `${reason.slice(0, MAX_REASON)}…` : reason
  return { reason: 'peer', error: new ProtocolError(`the peer gave up on this connection: ${text}`) }
}

