// The proxy layer's leaf: the handle a proxy stands on, the host interface it talks to, and how to
// find a proxy's handle. No run-time imports, so remote.ts and iterate.ts both build on it.
import type { Op, Path } from '../protocol/messages.ts'
import type { Tracker } from '../protocol/tables.ts'
import type { TraceContext } from '../protocol/tracing.ts'
import type { CallOptions } from '../types.ts'

/** The state of one operation's result, shared by its RemotePromise and every path built on it. */
export interface ResultState {
  /** The result id on the peer; 0 for a result computed locally. */
  rid: number
  /** 0 pending, 1 fulfilled, 2 rejected. */
  state: 0 | 1 | 2
  value: unknown
  /** then() was called: the value is wanted. */
  awaited: boolean
  /** Built on (a target or an argument) before its batch left: the peer must keep it. */
  used: boolean
  /** Sent awaited and not built on: the peer answers and forgets it; later work waits here. */
  drop: boolean
  /** The peer will send (or sent) the value back. */
  pulled: boolean
  /** The peer no longer holds it: operations on it run on the local value. */
  detached: boolean
  /** Its operation has left in a batch (so `pulled` is decided). */
  sent: boolean
  /** Registered for release at garbage collection (kept on the peer, not pulled). */
  retained?: boolean
  /** The call options it was sent with (withOptions). */
  opts?: CallOptions
  /** Its time limit, while armed. */
  timer?: ReturnType<typeof setTimeout>
  /** Its AbortSignal listener, while armed. */
  onAbort?: () => void
  /**
   * What made it, for describe(): the operation, its target (an id, or the pending result it was
   * pipelined on: dropped when this settles, so a settled result never holds its parent's value)
   * and path. None for a result made here.
   */
  op?: Op
  at?: number
  from?: ResultState | undefined
  path?: Path
  /** Its `farside:call` context, while someone traces and it is unsettled. */
  trace?: TraceContext | undefined
  promise?: Promise<unknown>
  resolve?: (v: unknown) => void
  reject?: (e: unknown) => void
}

export interface Handle {
  host: ProxyHost
  /** The peer table id operations go to: an import id, 0 for the root, or `result.rid`. */
  base: number
  path: Path
  /** Set when `base` is a pipelined result. */
  result: ResultState | undefined
  /** Set when `base` is an import (a settled Remote). */
  tracker: Tracker | undefined
  /** Proxies of this settled Remote's members, made once. */
  members?: Map<string, object>
  /** The Remote this path was read from: kept alive (and so not released) while the path lives. */
  owner?: object
  /** Call options (timeout, signal) its operations and those built on them carry. */
  opts?: CallOptions
}

/** What a proxy needs from its connection. */
export interface ProxyHost {
  /** Sends `op` against the handle with its argument list; returns the RemotePromise of its result. */
  op(op: Op, handle: Handle, args?: unknown[]): object
  /** `r.x = v`: sends a set, ordered with later operations; reports a failure as an event. */
  assign(handle: Handle, value: unknown): void
  /** Marks the state awaited (asking the peer for it if needed) and returns its promise. */
  promise(state: ResultState): Promise<unknown>
  /** Releases an import handle now. Idempotent. */
  release(handle: Handle): void
  /** The public connection object. */
  readonly connection: object
  /** Adds the local part to a failure's stack (localStacks) and rethrows it; called where the awaiter shows. */
  readonly markFailure?: (err: unknown) => never
}

export interface IterOptions {
  chunk?: number
  max?: number
  factor?: number
}

/** Global so that proxies from two copies of the package (ESM and CJS) still know each other. */
export const HANDLE = Symbol.for('farside.handle')

/** The handle of a proxy, or undefined for anything else. */
export function handleOf(value: unknown): Handle | undefined {
  return (typeof value === 'function' || (typeof value === 'object' && value !== null))
    ? (value as Record<symbol, Handle | undefined>)[HANDLE]
    : undefined
}
