// The serving side of a connection: the peer's operations, one record per served call (its
// AbortController, for currentCall()), E-order per target, replies, PULL and CANCEL, and the
// limits on what the peer may make this side hold or run.
import { AsyncLocalStorage } from 'node:async_hooks'
import { AbortError, ProtocolError } from '../errors.ts'
import { Decoder, isWireThenable } from '../codec/codec.ts'
import { handleOf } from '../proxy/remote.ts'
import { handlers, type HandlerContext } from './handlers.ts'
import { WireFault } from './fault.ts'
import { MAX_ARGS, MAX_PATH, RET, THROW, type Id, type Op, type Path } from './messages.ts'
import type { Outbox } from './outbox.ts'
import type { Boxing } from './boxing.ts'
import type { ExportEntry, ExportTable } from './tables.ts'
import { incomingMeta, serveChannel, traceContext, traceSettled, type TraceContext } from './tracing.ts'

/** What a served call knows about itself: `currentCall()` inside a method the peer called. */
export interface CallContext {
  /** Aborted when the caller cancels (timeout, AbortSignal) or the connection closes. */
  readonly signal: AbortSignal
  /** The connection the call came over. */
  readonly connection: object
  /** The operation: 'call', 'get', 'new', ... */
  readonly op: string
}

/** One served call: made per operation, its AbortController only when someone asks for it. */
class ServedCall implements CallContext {
  #controller: AbortController | undefined
  #reason: unknown
  constructor(readonly connection: object, readonly op: string) {}

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  cancel(reason: unknown): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
  }
}

// The call running synchronously right now; and, once currentCall() has been used, an
// AsyncLocalStorage that carries the call across awaits. Node 20's AsyncLocalStorage makes every
// promise in the process about twice as slow while it is on, so it is switched on only when used.
// The synchronous part is kept as its pieces, and made a ServedCall only if currentCall() asks:
// most calls never do, and an object per call shows in the in-flight figures.
let runningConn: object | undefined
let runningOp = ''
let runningCall: ServedCall | undefined
let storage: AsyncLocalStorage<ServedCall> | undefined

/**
 * The call being served: inside a function or method a peer called, `currentCall().signal` is
 * aborted when the caller gives up (its timeout or AbortSignal) or the connection closes.
 * Read it before the first `await` of a call; after the first use anywhere, it also holds after
 * awaits. Throws Error outside a served call.
 */
export function currentCall(): CallContext {
  const call = runningConn !== undefined ? (runningCall ??= new ServedCall(runningConn, runningOp)) : storage?.getStore()
  storage ??= new AsyncLocalStorage()
  if (call === undefined) {
    throw new Error('currentCall() was called outside a call served by farside: call it from a function or method a peer called, before its first await')
  }
  return call
}

/** Operations that act on no target object (they name none on the wire). */
const NO_ROOT_OPS = new Set<string>(['fetch', 'browse', 'attach', 'ping', 'hold'])
/** Operations that may be forwarded when the target is itself a Remote (the owner's policy decides). */
const FORWARD = new Set<string>(['get', 'call', 'new', 'set', 'del', 'has', 'keys', 'iter', 'next', 'obtain'])
const NO_ARGS: unknown[] = []
const RESOLVED = Promise.resolve()
const noop = () => {}

/** A result this side holds for the peer while and after serving it. */
interface Served extends ExportEntry {
  /** Send the value back when it settles. */
  pull: boolean
  /** Pull 2: answer and forget (not stored). */
  drop: boolean
  /** obtain(): reply by value. */
  copy: boolean
  /** deliver(): reply with a reference to the value. */
  byRef: boolean
  /** Its `farside:serve` context, while someone traces and it is unsettled. */
  trace?: TraceContext | undefined
}

/** What the callee needs from the rest of the connection. */
export interface CalleeParts {
  connection: object
  exports: ExportTable
  outbox: Outbox
  boxing: Boxing
  ctx: HandlerContext
  limits: { maxExports: number; maxInFlight: number }
  closed(): boolean
}

export class Callee {
  #p: CalleeParts
  /** Served calls still running (they can be cancelled), by result id. */
  #served = new Map<Id, ServedCall>()
  /** Operations of the peer's taken so far. */
  served = 0
  /** Per target id: opens when the last operation that had to wait has started (E-order). */
  #gates = new Map<Id, Promise<void>>()
  /** The record of the call #invoke ran last, if one was made. */
  #made: ServedCall | undefined
  /** Tracing metadata for the next operation: [META, rid, metadata] comes just before it. */
  #meta: { rid: unknown; wire: unknown } | undefined

  constructor(parts: CalleeParts) {
    this.#p = parts
  }

  // [op, rid, target, path, pull, argc, args...]
  serve(op: Op, d: unknown[], i: number): void {
    this.served++
    const rid = d[i + 1] as Id
    const target = d[i + 2] as Id
    const wirePath = d[i + 3]
    const pull = d[i + 4]
    const argc = d[i + 5] as number
    if (typeof rid !== 'number' || rid >= 0 || !Number.isInteger(rid) || typeof target !== 'number' || !Number.isInteger(target)) {
      throw new WireFault(`malformed '${op}' message`)
    }
    // a one-name path crosses as the name alone
    const path = (typeof wirePath === 'string' || typeof wirePath === 'number' ? [wirePath] : wirePath) as Path
    if (!Array.isArray(path) || path.length > MAX_PATH) throw new WireFault(`malformed '${op}' message`)
    for (let k = 0; k < path.length; k++) {
      const name = path[k]
      if (typeof name !== 'string' && typeof name !== 'number') throw new WireFault(`malformed '${op}' message: a path holds names only`)
    }
    const p = this.#p
    // pull 2: answer and forget (the caller will not build on it, so it is not stored)
    const entry: Served = { value: undefined, refs: 1, state: 0, pull: pull !== 0, drop: pull === 2, copy: op === 'obtain', byRef: op === 'hold' }
    const full = this.#served.size >= p.limits.maxInFlight ? `operations in flight (limit ${p.limits.maxInFlight})`
      : !entry.drop && p.exports.size >= p.limits.maxExports ? `exports (limit ${p.limits.maxExports})` : undefined
    if (full !== undefined) {
      // not stored: the peer's later release of rid finds nothing and is ignored
      return p.outbox.reply(THROW, rid, p.boxing.encodeError(new ProtocolError(`too many ${full} on this connection`)))
    }
    const meta = this.#meta
    this.#meta = undefined
    if (serveChannel.hasSubscribers) {
      const trace = traceContext(p.connection, op, target, path, rid, (meta?.rid === rid ? incomingMeta(meta.wire) : undefined) ?? Object.create(null))
      serveChannel.start.publish(trace)
      try {
        this.#run(op, rid, target, path, argc, d, i, entry)
      } finally {
        serveChannel.end.publish(trace)
      }
      // as for a promise-returning function: asyncStart and asyncEnd follow end, also when the
      // operation finished before it
      if (entry.state !== 0) traceSettled(serveChannel, trace, entry.state === 1, entry.value)
      else entry.trace = trace
    } else this.#run(op, rid, target, path, argc, d, i, entry)
  }

  /** META for the operation that follows (one slot: nothing builds up if none follows). */
  meta(rid: unknown, wire: unknown): void {
    this.#meta = { rid, wire }
  }

  /** Serves a checked operation: its target, arguments, E-order gate and invocation. */
  #run(op: Op, rid: Id, target: Id, path: Path, argc: number, d: unknown[], i: number, entry: Served): void {
    const p = this.#p
    if (!entry.drop) p.exports.setResult(rid, entry)
    let args: unknown[] = argc === 0 ? NO_ARGS : argc > 0 ? d.slice(i + 6, i + 6 + argc) : (undefined as never)
    // inline arguments are primitives; objects cross encoded (argc -1), so markers are honoured
    for (let k = 0; k < argc; k++) {
      const v = args[k]
      if (typeof v === 'object' ? v !== null : typeof v === 'function') throw new WireFault('an inline argument must be a primitive')
    }
    let t: unknown
    let dec: Decoder | undefined
    let holder: { v: unknown } | undefined
    try {
      t = target !== 0 ? this.#targetOf(target) : NO_ROOT_OPS.has(op) ? undefined : p.boxing.rootOrThrow()
      if (argc === -1) {
        dec = new Decoder(p.boxing.decodeHost)
        holder = { v: undefined }
        // streams among the arguments stop if the caller cancels the call
        p.boxing.streams.binding = rid
        dec.decodeInto(holder, d[i + 6])
      }
    } catch (err) {
      if (err instanceof WireFault) throw err
      return this.#finish(rid, entry, 2, err)
    } finally {
      p.boxing.streams.binding = undefined
    }
    const gate = this.#gates.get(target)
    if (gate !== undefined || t instanceof Promise || dec?.pending !== undefined) {
      // It must wait (for its target, a pipelined argument, or an earlier operation on the same
      // target that waits): later operations on this target wait until it has started.
      // only a promise of our own is awaited here: a target that is a peer's by-value object
      // with a `then` function is data, and Promise.all would adopt it
      const target0 = t
      const ready = (gate ?? RESOLVED).then(() => Promise.all([target0 instanceof Promise ? target0 : undefined, dec?.settle()]))
      const call = new ServedCall(p.connection, op)
      const result = ready.then(([tv]) => notAdopted(this.#invoke(call, op, target0 instanceof Promise ? tv : target0, path, holder === undefined ? args : argList(holder.v))))
      const opened = ready.then(noop, noop)
      this.#gates.set(target, opened)
      void opened.then(() => {
        if (this.#gates.get(target) === opened) this.#gates.delete(target)
      })
      return this.#await(rid, entry, call, result)
    }
    let result: unknown
    try {
      if (holder !== undefined) args = argList(holder.v)
      result = this.#invoke(storage === undefined ? undefined : new ServedCall(p.connection, op), op, t, path, args)
    } catch (err) {
      return this.#finish(rid, entry, 2, err)
    }
    if (result === null || (typeof result !== 'object' && typeof result !== 'function') || typeof (result as PromiseLike<unknown>).then !== 'function' || isWireThenable(result)) {
      return this.#finish(rid, entry, 1, result)
    }
    // a promise, a thenable, or a RemotePromise of some connection (forwarding): wait for it
    this.#await(rid, entry, this.#made ?? new ServedCall(p.connection, op), Promise.resolve(result as PromiseLike<unknown>))
  }

  /** PULL for `rid`: send its result back when it settles (now, if it has). */
  pull(rid: unknown): void {
    if (typeof rid !== 'number' || rid >= 0) throw new WireFault('pull of a bad result id')
    const entry = this.#p.exports.get(rid) as Served | undefined
    // not held: refused by a limit, or already released; the caller gets an error, not a close
    if (entry === undefined) {
      return this.#p.outbox.reply(THROW, rid, this.#p.boxing.encodeError(new ReferenceError('this result is not held here (refused by a limit, or released)')))
    }
    if (entry.state === 0) entry.pull = true
    else this.#reply(rid, entry)
  }

  /** CANCEL for `rid`: abort the served call's signal, send no answer, drop its result. */
  cancel(rid: unknown): void {
    if (typeof rid !== 'number' || rid >= 0) throw new WireFault('cancel of a bad result id')
    this.#served.get(rid)?.cancel(new AbortError('the caller cancelled this call'))
    this.#served.delete(rid)
    this.#p.boxing.streams.cancelCall(rid)
    const entry = this.#p.exports.get(rid) as Served | undefined
    if (entry !== undefined) {
      entry.pull = false
      this.#p.exports.release(rid, entry.refs)
    }
  }

  /** Aborts every running call's signal (the connection closed). */
  abort(err: unknown): void {
    for (const call of this.#served.values()) call.cancel(err)
    this.#served.clear()
    this.#gates.clear()
  }

  /** Runs the handler as the current call; an operation on a Remote goes on to its owner. */
  #invoke(call: ServedCall | undefined, op: Op, t: unknown, path: Path, args: unknown[]): unknown {
    // every proxy is a function (see proxy/remote.ts): plain objects need no handle lookup
    const h = typeof t === 'function' && FORWARD.has(op) ? handleOf(t) : undefined
    const prevConn = runningConn
    const prevOp = runningOp
    const prevCall = runningCall
    runningConn = this.#p.connection
    runningOp = op
    runningCall = call
    try {
      if (h !== undefined) {
        // forwarded: what may be done to the object is decided where it lives, by its owner
        const fwd = { ...h, path: [...h.path, ...path], owner: t as object }
        return h.host.op(op, fwd, args)
      }
      return call === undefined || storage === undefined ? handlers[op](this.#p.ctx, t, path, args) : storage.run(call, handlers[op], this.#p.ctx, t, path, args)
    } finally {
      // the record currentCall() made, if it did: the one a cancel must reach
      this.#made = runningCall
      runningConn = prevConn
      runningOp = prevOp
      runningCall = prevCall
    }
  }

  #await(rid: Id, entry: Served, call: ServedCall, result: Promise<unknown>): void {
    this.#served.set(rid, call)
    entry.promise = result
    result.then(
      (v) => {
        if (this.#served.get(rid) === call) this.#served.delete(rid)
        this.#finish(rid, entry, 1, v)
      },
      (e) => {
        if (this.#served.get(rid) === call) this.#served.delete(rid)
        this.#finish(rid, entry, 2, e)
      },
    )
  }

  #targetOf(id: Id): unknown {
    const entry = this.#p.exports.get(id)
    if (entry === undefined) throw new ReferenceError('unknown or released reference')
    if (entry.state === 1) return entry.value
    if (entry.state === 2) throw entry.value
    return entry.promise
  }

  #finish(rid: Id, entry: Served, outcome: 1 | 2, value: unknown): void {
    this.#p.boxing.streams.callDone(rid)
    entry.state = outcome
    entry.value = value
    if (entry.trace !== undefined) {
      traceSettled(serveChannel, entry.trace, outcome === 1, value)
      entry.trace = undefined
    }
    if (entry.pull && !this.#p.closed() && (entry.drop || this.#p.exports.get(rid) === entry)) this.#reply(rid, entry)
  }

  // [RET, rid, value] | [THROW, rid, error]
  #reply(rid: Id, entry: Served): void {
    const boxing = this.#p.boxing
    if (entry.state === 1) {
      let wire: unknown
      try {
        wire = entry.byRef ? boxing.encodeRef(entry.value) : boxing.encodeValue(entry.value, entry.copy)
      } catch (err) {
        return this.#p.outbox.reply(THROW, rid, boxing.encodeError(err))
      }
      // a reply waits for no `await`: it may leave a hop sooner
      this.#p.outbox.reply(RET, rid, wire)
    } else {
      this.#p.outbox.reply(THROW, rid, boxing.encodeError(entry.value))
    }
  }
}

/**
 * A result about to settle a promise: a peer's by-value object with a `then` function would be
 * adopted (its `then` called by this side's promise machinery), so it is refused instead.
 */
function notAdopted(v: unknown): unknown {
  if (isWireThenable(v)) throw new TypeError("a peer's by-value object with a `then` function cannot be the result of an operation that waited: farside does not adopt a peer's thenable")
  return v
}

/** A decoded argument list; anything else is a broken peer. */
function argList(v: unknown): unknown[] {
  if (!Array.isArray(v) || v.length > MAX_ARGS) throw new WireFault('an argument list must be an array (of at most 2^20 arguments)')
  return v
}
