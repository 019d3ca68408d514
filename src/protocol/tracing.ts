// Tracing the ecosystem's way, with node:diagnostics_channel: `farside:call` on the caller and
// `farside:serve` on the callee (TracingChannels), and point channels for connections opening and
// closing. Nothing is built or published while nobody subscribes: one boolean test per operation.
import dc from 'node:diagnostics_channel'
import type { Op, Path } from './messages.ts'

/**
 * What a subscriber sees for one operation, on either side (the same object through start, end,
 * asyncStart, asyncEnd and error, as TracingChannel promises).
 */
export interface TraceContext {
  /** The Connection it went over. */
  connection: object
  /** `conn.transport`: 'worker', 'tcp', ... */
  transport: string
  /** `conn.peer`: 'thread 3', '127.0.0.1:4000', ... ('' if the transport cannot tell). */
  peer: string
  /** The target's table id: 0 the root, > 0 a remote object, < 0 a pipelined result. */
  target: number
  /** Property names from the target (`['makeNode']` for `root.makeNode(1)`). */
  path: readonly (string | number)[]
  /** 'get', 'call', 'new', 'set', ... */
  op: string
  /** The result id: the same number on both sides of one operation. */
  callId: number
  /**
   * String key–value pairs that cross with the operation: a `farside:call` start subscriber may
   * add to it (`traceparent`, as an OpenTelemetry propagator injects it) and the peer's
   * `farside:serve` subscribers read it. At most 16 keys; names up to 64 and values up to 1024
   * characters; anything else is left out. Operations sent before the handshake is done carry
   * none (the peer may be one that does not read it), nor do those to a peer without 'meta'.
   */
  metadata: Record<string, string>
  /** The operation's value, on asyncStart/asyncEnd when it succeeded. */
  result?: unknown
  /** Why it failed, on error, asyncStart and asyncEnd. */
  error?: unknown
}

/** What `farside:connection:open` and `farside:connection:close` publish. */
export interface ConnectionEvent {
  connection: object
  transport: string
  peer: string
  /** On close: why (CloseInfo: reason, error, exit code, signal). */
  info?: unknown
}

export const callChannel = dc.tracingChannel<unknown, TraceContext>('farside:call')
export const serveChannel = dc.tracingChannel<unknown, TraceContext>('farside:serve')
const openChannel = dc.channel('farside:connection:open')
const closeChannel = dc.channel('farside:connection:close')

/** Metadata bounds: what a peer's metadata may make this side hold per operation. */
export const MAX_META_KEYS = 16
const MAX_META_NAME = 64
const MAX_META_VALUE = 1024

/** Whether anyone listens to `farside:call` (checked per operation, before anything is built). */
export function tracingCalls(): boolean {
  return callChannel.hasSubscribers
}

/** Whether anyone listens to `farside:serve`. */
export function tracingServes(): boolean {
  return serveChannel.hasSubscribers
}

/** A context for one operation; `metadata` is the peer's (serve) or a fresh carrier (call). */
export function traceContext(conn: object, op: Op, target: number, path: Path, callId: number, metadata: Record<string, string> = {}): TraceContext {
  const c = conn as { transport: string; peer: string }
  return { connection: conn, transport: c.transport, peer: c.peer, target, path, op, callId, metadata }
}

/** The metadata a start subscriber left, bounded; undefined if there is none to send. */
export function outgoingMeta(meta: Record<string, string>): Record<string, string> | undefined {
  let out: Record<string, string> | undefined
  let n = 0
  for (const k of Object.keys(meta)) {
    const v = meta[k]
    if (typeof v !== 'string' || k.length > MAX_META_NAME || v.length > MAX_META_VALUE) continue
    ;(out ??= {})[k] = v
    if (++n === MAX_META_KEYS) break
  }
  return out
}

/** A peer's metadata as this side keeps it: only what fits the bounds, in a null-prototype object. */
export function incomingMeta(wire: unknown): Record<string, string> | undefined {
  if (wire === null || typeof wire !== 'object' || Array.isArray(wire)) return undefined
  const out: Record<string, string> = Object.create(null)
  let n = 0
  for (const k of Object.keys(wire)) {
    const v = (wire as Record<string, unknown>)[k]
    if (typeof v !== 'string' || k.length > MAX_META_NAME || v.length > MAX_META_VALUE) continue
    out[k] = v
    if (++n === MAX_META_KEYS) break
  }
  return out
}

/** Publishes how an operation ended, as TracingChannel.tracePromise would: error, asyncStart, asyncEnd. */
export function traceSettled(channel: typeof callChannel, ctx: TraceContext, ok: boolean, value: unknown): void {
  if (ok) ctx.result = value
  else {
    ctx.error = value
    channel.error.publish(ctx)
  }
  channel.asyncStart.publish(ctx)
  channel.asyncEnd.publish(ctx)
}

/** `farside:connection:open`, once the handshake is done. */
export function traceOpen(conn: object): void {
  if (!openChannel.hasSubscribers) return
  const c = conn as { transport: string; peer: string }
  openChannel.publish({ connection: conn, transport: c.transport, peer: c.peer } satisfies ConnectionEvent)
}

/** `farside:connection:close`, once, with why. */
export function traceClose(conn: object, info: unknown): void {
  if (!closeChannel.hasSubscribers) return
  const c = conn as { transport: string; peer: string }
  closeChannel.publish({ connection: conn, transport: c.transport, peer: c.peer, info } satisfies ConnectionEvent)
}
