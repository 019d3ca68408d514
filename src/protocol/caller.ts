// The calling side of a connection: the operations this side sends, one record per call (its
// result state, timer and signal), pipelining on results not yet back, and what happens
// when a result arrives, times out, is cancelled or is let go.
import { AbortError, ConnectionClosedError, TimeoutError, type CloseInfo } from '../errors.ts'
import { Encoder, TAG, WIRE_THENABLE, isMarked, isPlain, isWireThenable, type Marker } from '../codec/codec.ts'
import { handleOf, localOp, localState, makeProxy, type Handle, type ProxyHost, type ResultState } from '../proxy/remote.ts'
import { CANCEL, MAX_INLINE_ARGS, META, OP_CODE, PULL, type Id, type Op } from './messages.ts'
import { Soon, type Outbox } from './outbox.ts'
import { WireFault } from './fault.ts'
import type { Boxing } from './boxing.ts'
import type { ImportTable } from './tables.ts'
import { callChannel, outgoingMeta, traceContext, traceSettled } from './tracing.ts'

/** What the caller needs from the rest of the connection. */
export interface CallerParts {
  outbox: Outbox
  imports: ImportTable
  stacks: boolean
  /** The connection's default per-operation timeout (ms), if any. */
  timeout: number | undefined
  /** Why the connection closed, once it has. */
  closeInfo(): CloseInfo | undefined
  /** Whether the peer reads META (its handshake named the 'meta' feature). */
  peerReadsMeta(): boolean
}

/** Thrown while encoding: an argument is a result the peer does not keep; wait for it first. */
class Dropped {
  constructor(readonly state: ResultState) {}
}

export class Caller {
  /** Pulled results this side waits for, by result id. */
  readonly pending = new Map<Id, ResultState>()
  /** Operations sent so far. */
  calls = 0
  host!: ProxyHost
  /** Set once built: boxing and the caller need each other. */
  boxing!: Boxing
  #p: CallerParts
  #nextRid = -1
  /** Operations made so far. */
  get issued(): number {
    return -1 - this.#nextRid
  }
  // a result kept on the peer and never pulled: released when its last proxy is collected
  #retained = new FinalizationRegistry<Id>((rid) => this.#p.outbox.release(rid, 1))

  constructor(parts: CallerParts) {
    this.#p = parts
  }

  /** A handle on the peer's root (no path). */
  rootHandle(): Handle {
    return { host: this.host, base: 0, path: [], result: undefined, tracker: undefined }
  }

  /**
   * Sends `op` on the handle's target with its argument list; returns the RemotePromise. The
   * handle's call options (withOptions) or the connection's timeout apply to it.
   */
  op(op: Op, h: Handle, args?: unknown[]): object {
    const r = h.result
    if (r !== undefined) {
      if (r.detached) return localOp(this.host, op, r, h.path, args)
      // the peer drops this result once it has answered: wait for the answer, then go on from it
      if (r.drop) return this.#deferred(r, () => this.op(op, h, args))
    }
    const closed = this.#p.closeInfo()
    if (closed !== undefined) return this.failed(new ConnectionClosedError(closed))
    if (h.tracker !== undefined && h.tracker.count === 0) return this.failed(new ReferenceError('this Remote was released'))
    const opts = h.opts
    if (opts?.signal?.aborted) return this.failed(abortError(opts.signal))
    let wire: unknown
    const outbox = this.#p.outbox
    if (args !== undefined && (args.length > MAX_INLINE_ARGS || !isPlain(args))) {
      const enc = new Encoder(this.boxing.encodeHost, { stacks: this.#p.stacks })
      // streams among the arguments are aborted by the call's signal
      this.boxing.streams.binding = opts?.signal
      try {
        wire = enc.encode(args)
      } catch (err) {
        this.boxing.streams.binding = undefined
        this.boxing.unexport(enc)
        if (err instanceof Dropped) return this.#deferred(err.state, () => this.op(op, h, args))
        return this.failed(err)
      }
      this.boxing.streams.binding = undefined
      if (enc.transfer !== undefined) outbox.transfer(enc.transfer)
    }
    if (r !== undefined) r.used = true
    const rid = this.#nextRid--
    const state: ResultState = { rid, state: 0, value: undefined, awaited: false, used: false, drop: false, pulled: false, detached: false, sent: false, op, at: h.base, from: r, path: h.path }
    if (opts !== undefined) state.opts = opts
    if (callChannel.hasSubscribers) this.#traceStart(state, op, h)
    this.pending.set(rid, state)
    // [op, rid, target, path, pull, argc, args...] or [op, rid, target, path, pull, -1, encoded args]
    const q = outbox.beginOp(state, 4)
    const path = h.path
    q.push(OP_CODE[op], rid, h.base, path.length === 1 ? path[0] : path, 1)
    if (args === undefined) q.push(0)
    else if (wire === undefined) {
      q.push(args.length)
      for (let i = 0; i < args.length; i++) q.push(args[i])
    } else q.push(-1, wire)
    this.calls++
    const timeout = opts?.timeout ?? this.#p.timeout
    if (timeout !== undefined || opts?.signal !== undefined) this.#arm(state, op, timeout, opts?.signal)
    if (state.trace !== undefined) callChannel.end.publish(state.trace)
    return makeProxy({ host: this.host, base: rid, path: [], result: state, tracker: undefined, opts })
  }

  /**
   * `farside:call` start for an operation about to be queued; the metadata its subscribers add
   * crosses just before it: [META, rid, { name: value }].
   */
  #traceStart(state: ResultState, op: Op, h: Handle): void {
    const trace = traceContext(this.host.connection, op, h.base, h.path, state.rid)
    state.trace = trace
    callChannel.start.publish(trace)
    // a peer that does not know META would take it for a broken frame (before the handshake it
    // is not known yet: such operations carry no metadata)
    const meta = outgoingMeta(trace.metadata)
    if (meta !== undefined && this.#p.peerReadsMeta()) this.#p.outbox.push(Soon.Op, META, state.rid, meta)
  }

  /** A RemotePromise already rejected with `err`. */
  failed(err: unknown): object {
    return makeProxy({ host: this.host, base: 0, path: [], result: localState(2, err), tracker: undefined })
  }

  /**
   * An operation that must wait for `state` to settle (a result the peer will not keep, or a
   * local stand-in for one), then runs `run`; its own result is a local stand-in too.
   */
  #deferred(state: ResultState, run: () => object): object {
    const local: ResultState = { rid: 0, state: 0, value: undefined, awaited: false, used: false, drop: true, pulled: true, detached: false, sent: true }
    const settle = (outcome: 1 | 2, value: unknown) => {
      local.detached = true
      this.settle(local, outcome, value)
    }
    this.promise(state).then(
      () => {
        const next = run()
        const inner = handleOf(next)?.result
        if (inner === undefined) return settle(1, next)
        this.promise(inner).then((v) => settle(1, v), (e) => settle(2, e))
      },
      (e) => settle(2, e),
    )
    return makeProxy({ host: this.host, base: 0, path: [], result: local, tracker: undefined })
  }

  /** Marks the state awaited (pulling it from the peer if it was left there) and returns its promise. */
  promise(state: ResultState): Promise<unknown> {
    if (state.promise === undefined) {
      if (state.state === 1) state.promise = Promise.resolve(state.value)
      else if (state.state === 2) state.promise = Promise.reject(state.value)
      else state.promise = new Promise((resolve, reject) => {
        state.resolve = resolve
        state.reject = reject
      })
    }
    state.awaited = true
    if (state.state === 0 && state.sent && !state.pulled) {
      const closed = this.#p.closeInfo()
      if (closed !== undefined) {
        this.settle(state, 2, new ConnectionClosedError(closed))
      } else {
        state.pulled = true
        this.pending.set(state.rid, state)
        // [PULL, rid]
        this.#p.outbox.push(Soon.Op, PULL, state.rid)
        const opts = state.opts
        const timeout = opts?.timeout ?? this.#p.timeout
        if (timeout !== undefined || opts?.signal !== undefined) this.#arm(state, 'pull', timeout, opts?.signal)
      }
    }
    return state.promise
  }

  /** The flush left this operation unawaited: the peer keeps it until it is pulled or let go. */
  kept(state: ResultState): void {
    this.pending.delete(state.rid)
    // nobody waits for it: its timer and signal have nothing to cut short
    this.#disarm(state)
    this.#retained.register(state, state.rid, state)
    state.retained = true
  }

  /** Settles a result once; the one place a call's timer and signal listener are cleared. */
  settle(state: ResultState, outcome: 1 | 2, value: unknown): void {
    if (state.state !== 0) return
    state.state = outcome
    state.value = value
    state.from = undefined
    this.#disarm(state)
    if (state.trace !== undefined) {
      traceSettled(callChannel, state.trace, outcome === 1, value)
      state.trace = undefined
    }
    if (outcome === 1) state.resolve?.(value)
    else state.reject?.(value)
    state.resolve = state.reject = undefined
  }

  /** RET or THROW for `rid` arrived. A reply to a call cancelled here gives back its references. */
  answer(rid: Id, ok: boolean, wire: unknown): void {
    const state = this.pending.get(rid)
    if (state === undefined) {
      if (isMarked(wire)) this.boxing.discard(wire)
      return
    }
    this.pending.delete(rid)
    let value: unknown
    let outcome: 1 | 2 = ok ? 1 : 2
    if (isMarked(wire)) {
      // streams in the result are aborted by the call's signal
      this.boxing.streams.binding = state.opts?.signal
      try {
        value = this.boxing.decode(wire)
      } catch (err) {
        if (err instanceof WireFault) throw err
        value = err
        outcome = 2
      } finally {
        this.boxing.streams.binding = undefined
      }
    } else value = wire
    if (outcome === 1 && isWireThenable(value)) {
      value = new TypeError(WIRE_THENABLE)
      outcome = 2
    }
    this.#detach(state)
    this.settle(state, outcome, value)
  }

  /** A call of ours could not be sent (its arguments could not be serialized). */
  sendFailed(rid: Id, error: unknown): void {
    const state = this.pending.get(rid)
    if (state === undefined) return
    this.pending.delete(rid)
    this.settle(state, 2, error)
  }

  /** Releases an import or an unpulled result now. Idempotent. */
  release(h: Handle): void {
    if (h.tracker !== undefined) {
      const count = this.#p.imports.forget(h.tracker)
      if (count > 0) this.#p.outbox.release(h.tracker.id, count)
    } else if (h.result !== undefined && !h.result.detached && h.result.sent && !h.result.pulled) {
      if (h.result.retained) this.#retained.unregister(h.result)
      h.result.detached = true
      this.settle(h.result, 2, new ReferenceError('this Remote was released'))
      this.#p.outbox.release(h.result.rid, 1)
    }
  }

  /** The marker for a proxy of this connection, sent as an argument; undefined for others. */
  markerOf(value: object): Marker | undefined {
    let h = handleOf(value)
    if (h === undefined || h.host !== this.host) return undefined
    if (h.path.length > 0) h = handleOf(this.op('get', h))!
    if (h.result !== undefined) {
      const r = h.result
      if (r.detached) {
        if (r.state === 2) throw r.value
        // the peer no longer holds it: send what it settled to (a Remote, or plain data)
        const v = r.value
        const inner = handleOf(v)
        if (inner !== undefined && inner.host === this.host) return this.markerOf(v as object)
        return { [TAG]: 'v', v: new Encoder(this.boxing.encodeHost, { stacks: this.#p.stacks }).encode(v) }
      }
      if (r.drop) throw new Dropped(r)
      if (!r.sent) r.used = true
      return { [TAG]: 'h', i: r.rid }
    }
    if (h.tracker !== undefined && h.tracker.count === 0) throw new ReferenceError('this Remote was released')
    return { [TAG]: 'b', i: h.base }
  }

  /** Fails every call (the connection closed). */
  abort(err: unknown): void {
    for (const state of this.pending.values()) this.settle(state, 2, err)
    this.pending.clear()
    for (const state of this.#p.outbox.unflushed()) this.settle(state, 2, err)
  }

  /** A pulled result arrived: the peer may drop it now; later operations run on the value here. */
  #detach(state: ResultState): void {
    state.detached = true
    if (state.retained) this.#retained.unregister(state)
    if (!state.drop) this.#p.outbox.release(state.rid, 1)
  }

  #arm(state: ResultState, op: string, timeout: number | undefined, signal: AbortSignal | undefined): void {
    this.#disarm(state)
    if (timeout !== undefined) {
      state.timer = setTimeout(() => this.#cancel(state, new TimeoutError(`'${op}' timed out after ${timeout} ms`)), timeout)
      state.timer.unref?.()
    }
    if (signal !== undefined) {
      const onAbort = () => this.#cancel(state, abortError(signal))
      state.onAbort = onAbort
      signal.addEventListener('abort', onAbort, { once: true })
    }
  }

  #disarm(state: ResultState): void {
    if (state.timer !== undefined) {
      clearTimeout(state.timer)
      state.timer = undefined
    }
    if (state.onAbort !== undefined) {
      state.opts?.signal?.removeEventListener('abort', state.onAbort)
      state.onAbort = undefined
    }
  }

  // Rejects here at once and tells the peer, which aborts the served call's signal and drops its
  // result (the CANCEL stands for the release). A late answer is then discarded by answer().
  #cancel(state: ResultState, err: Error): void {
    if (state.state !== 0) return
    this.pending.delete(state.rid)
    if (state.retained) this.#retained.unregister(state)
    state.detached = true
    if (this.#p.closeInfo() === undefined) {
      // [CANCEL, rid]
      this.#p.outbox.push(Soon.Op, CANCEL, state.rid)
    }
    this.settle(state, 2, err)
  }
}

/** The AbortError for an aborted signal, its reason as the cause. */
function abortError(signal: AbortSignal): AbortError {
  return new AbortError('operation aborted', { cause: signal.reason })
}
