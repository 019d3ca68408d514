// One end of a farside connection: the outgoing batch, pending results, the receive loop and the
// one idempotent abort path. It speaks to a Transport only; it never learns what carries it.
import { EventEmitter } from 'node:events'
import { ConnectionClosedError, ProtocolError, AccessError, type CloseInfo } from '../errors.ts'
import { Decoder, Encoder, TAG, isMarked, isPlain, type DecodeHost, type EncodeHost, type Marker } from '../codec/codec.ts'
import { appendLocalStack } from '../codec/errors.ts'
import { handleOf, localOp, localState, makeProxy, type Handle, type ProxyHost, type ResultState } from '../proxy/remote.ts'
import { handlers, type HandlerContext } from './handlers.ts'
import { visible } from './policy.ts'
import { WireFault } from './fault.ts'
import { ExportTable, ImportTable, type ExportEntry, type Tracker } from './tables.ts'
import { Registry } from './registry.ts'
import { BYE, FEATURES, HELLO, OPS, OP_CODE, PROTOCOL_VERSION, PULL, RELEASE, RET, SETTLE, THROW, messageLength, type Id, type Op, type Path } from './messages.ts'
import type { Transport, Transferable } from '../transport/transport.ts'
import type { ConnectionOptions } from '../types.ts'

const DEFAULT_LIMITS = { maxExports: 1_000_000, maxInFlight: 100_000, handshakeTimeout: 30_000 }
/** Operations that do not act on a target object. */
const NO_ROOT_OPS = new Set<string>(['fetch', 'browse', 'attach', 'ping', 'hold'])
const NO_ARGS: unknown[] = []
const noop = () => {}

/** Counters a connection keeps; also the way tests and users find leaks. */
export interface ConnectionStats {
  /** Operations this side has sent. */
  calls: number
  /** Operations sent whose results this side still waits for. */
  inFlight: number
  /** Objects and results this side holds for the peer. */
  exported: number
  /** Live proxies of the peer's objects on this side. */
  imported: number
  /** Bytes read and written, where the transport counts them (streams); else 0. */
  bytesIn: number
  bytesOut: number
}

interface Deferred {
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

/**
 * A connection to a peer. Made by pair(), connectPort(), worker(), serveParent() and the other
 * transports' functions; never constructed by hand.
 */
export class Connection extends EventEmitter {
  /** The peer's root object. Usable at once: operations queue until the handshake ends. */
  readonly root: any
  /** Resolves with why the connection closed; never rejects. */
  readonly closed: Promise<CloseInfo>
  /** Resolves when the handshake is done; rejects if the connection closes first. */
  readonly ready: Promise<void>

  #transport: Transport
  #rootValue: object | undefined
  #registry: Registry
  #stacks: boolean
  #localStacks: boolean
  #limits: typeof DEFAULT_LIMITS
  #ctx: HandlerContext
  #exports: ExportTable
  #imports: ImportTable
  /** Pulled results this side waits for, by result id. */
  #pending = new Map<Id, ResultState>()
  /** Local stacks of calls made with localStacks on. */
  #callStacks = new WeakMap<ResultState, { stack?: string }>()
  /** Promises the peer sent by reference, by id, until they settle. */
  #peerPromises = new Map<Id, Deferred>()
  #queue: unknown[] = []
  #transfer: Transferable[] | undefined
  #unflushed: (ResultState | number)[] = []
  #releases: number[] = []
  #scheduled = false
  #releaseTimer: ReturnType<typeof setImmediate> | undefined
  #nextRid = -1
  #calls = 0
  #running = 0
  #ready = false
  #readyResolve!: () => void
  #readyReject!: (e: unknown) => void
  #closedResolve!: (info: CloseInfo) => void
  #closeInfo: CloseInfo | undefined
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined
  #retained = new FinalizationRegistry<Id>((rid) => this.#queueRelease(rid, 1))
  #host: ProxyHost
  #encodeHost: EncodeHost
  #decodeHost: DecodeHost
  #flushBound = () => this.#flush()
  #hopBound = () => queueMicrotask(this.#flushBound)

  /** @internal Use the transports' functions (pair, connectPort, worker, ...) instead. */
  constructor(transport: Transport, options: ConnectionOptions = {}) {
    super()
    try {
      validateOptions(options)
    } catch (err) {
      // the transport may already hold a port or a process: let it go before refusing
      void transport.close({ reason: 'local' })
      throw err
    }
    this.#transport = transport
    this.#rootValue = options.root
    this.#registry = options.registry ?? new Registry()
    this.#stacks = options.stacks ?? true
    this.#localStacks = options.localStacks ?? false
    this.#limits = { ...DEFAULT_LIMITS, ...stripUndefined(options.limits ?? {}) }
    this.#exports = new ExportTable(this.#limits.maxExports)
    this.#imports = new ImportTable((t) => this.#queueRelease(t.id, t.count))
    this.#ctx = {
      registry: this.#registry,
      allowSet: options.allowSet ?? false,
      allowDelete: options.allowDelete ?? false,
      isRemote: (v) => handleOf(v) !== undefined,
      attached: new Set(),
    }
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve))
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve
      this.#readyReject = reject
    })
    this.ready.catch(noop)

    this.#host = {
      connection: this,
      op: (op, h, args) => this.#op(op, h, args),
      assign: (h, value) => {
        const state = handleOf(this.#op('set', h, [value]))!.result!
        // `r.x = v` cannot return a promise: its failure goes to the 'error' event, if listened to
        this.#promise(state).catch((err) => {
          if (this.listenerCount('error') > 0) this.emit('error', err)
        })
      },
      promise: (s) => this.#promise(s),
      release: (h) => this.#release(h),
    }
    this.#encodeHost = {
      markerOf: (v) => this.#markerOf(v),
      exportObject: (v) => this.#exports.export(v),
      exportPromise: (p) => this.#exportPromise(p),
    }
    this.#decodeHost = {
      importObject: (id) => this.#importObject(id),
      importPromise: (id) => this.#importPromise(id),
      local: (id) => this.#local(id),
      result: (id) => this.#result(id),
    }
    this.root = makeProxy({ host: this.#host, base: 0, path: [], result: undefined, tracker: undefined })

    this.#handshakeTimer = setTimeout(() => {
      this.#abort({ reason: 'error', error: new WireFault(`no handshake from the peer within ${this.#limits.handshakeTimeout} ms`) })
    }, this.#limits.handshakeTimeout)
    this.#handshakeTimer.unref?.()
    transport.start({ message: (data) => this.#receive(data), close: (info) => this.#abort(info) })
    // ["hello", version, features, options]
    this.#sendNow([HELLO, PROTOCOL_VERSION, FEATURES, { root: this.#rootValue !== undefined }])
  }

  /** @internal Throws TypeError for options a connection would refuse. */
  static validate(options: ConnectionOptions): void {
    validateOptions(options)
  }

  /** A Remote to the object the peer exported under `name` (pipelinable; rejects if there is none). */
  fetch(name: string): any {
    if (typeof name !== 'string') throw new TypeError('fetch() needs a name')
    return this.#op('fetch', this.#rootHandle(), [name])
  }

  /** The names the peer exports. */
  async browse(): Promise<string[]> {
    return (await this.#op('browse', this.#rootHandle())) as string[]
  }

  /** Asks the peer to export, under `name`, an object it owns (a Remote from this connection). */
  async attach(remote: unknown, name: string): Promise<void> {
    const h = handleOf(remote)
    if (h === undefined || h.host !== this.#host) throw new TypeError('attach() needs a Remote from this connection')
    if (typeof name !== 'string' || name === '') throw new TypeError('attach() needs a non-empty name')
    await this.#op('attach', this.#rootHandle(), [remote, name])
  }

  /** Offers `value` to the peer under `name` (this side's registry). */
  export(name: string, value: unknown): void {
    this.#registry.export(name, value)
  }

  /** Stops offering `name`. Returns whether it was offered. */
  unexport(name: string): boolean {
    return this.#registry.unexport(name)
  }

  /** Round-trip time to the peer, in milliseconds. */
  async ping(): Promise<number> {
    const start = performance.now()
    await this.#op('ping', this.#rootHandle(), [0])
    return performance.now() - start
  }

  /** Counters; see ConnectionStats. */
  stats(): ConnectionStats {
    return {
      calls: this.#calls,
      inFlight: this.#pending.size,
      exported: this.#exports.size,
      imported: this.#imports.size,
      bytesIn: this.#transport.bytesIn,
      bytesOut: this.#transport.bytesOut,
    }
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.#closeInfo !== undefined
  }

  /**
   * Closes the connection: everything pending rejects with ConnectionClosedError, every export is
   * dropped, and the transport is released (a worker or child started by farside is stopped).
   * Idempotent; resolves when the transport is down.
   */
  async close(): Promise<void> {
    if (this.#closeInfo === undefined) {
      // ["bye", reason]
      if (this.#ready) {
        // what was queued before close() still leaves, in order, ahead of the goodbye
        this.#flush()
        this.#sendNow([BYE, 'close'])
      }
      this.#abort({ reason: 'local' })
    }
    await this.#transport.close({ reason: 'local' })
  }

  // ---- sending ----

  #rootHandle(): Handle {
    return { host: this.#host, base: 0, path: [], result: undefined, tracker: undefined }
  }

  /** Sends `op` on the handle's target with its argument list; returns the RemotePromise. */
  #op(op: Op, h: Handle, args?: unknown[]): object {
    const r = h.result
    if (r !== undefined) {
      if (r.detached) return localOp(this.#host, op, r, h.path, args)
      // the peer drops this result once it has answered: wait for the answer, then go on from it
      if (r.drop) return this.#deferred(r, () => this.#op(op, h, args))
    }
    if (this.#closeInfo !== undefined) return this.#failed(new ConnectionClosedError(this.#closeInfo))
    if (h.tracker !== undefined && h.tracker.count === 0) return this.#failed(new ReferenceError('this Remote was released'))
    let wire: unknown
    if (args !== undefined && !isPlain(args)) {
      const enc = new Encoder(this.#encodeHost, { stacks: this.#stacks })
      try {
        wire = enc.encode(args)
      } catch (err) {
        this.#unexport(enc)
        if (err instanceof Dropped) return this.#deferred(err.state, () => this.#op(op, h, args))
        return this.#failed(err)
      }
      if (enc.transfer !== undefined) (this.#transfer ??= []).push(...enc.transfer)
    }
    if (r !== undefined) r.used = true
    const rid = this.#nextRid--
    const state: ResultState = { rid, state: 0, value: undefined, awaited: false, used: false, drop: false, pulled: false, detached: false, sent: false }
    if (this.#localStacks && (op === 'call' || op === 'new')) {
      const holder = {}
      Error.captureStackTrace(holder, this.#op)
      this.#callStacks.set(state, holder)
    }
    this.#pending.set(rid, state)
    if (this.#releases.length > 0) this.#moveReleases()
    const q = this.#queue
    // the pull flag's place in the batch, decided at flush
    this.#unflushed.push(state, q.length + 4)
    // op, rid, target, path, pull, argc, args... (or -1, encoded args)
    const path = h.path
    q.push(OP_CODE[op], rid, h.base, path.length === 1 ? path[0] : path, 1)
    if (args === undefined) q.push(0)
    else if (wire === undefined) {
      q.push(args.length)
      for (let i = 0; i < args.length; i++) q.push(args[i])
    } else q.push(-1, wire)
    this.#calls++
    this.#schedule()
    return makeProxy({ host: this.#host, base: rid, path: [], result: state, tracker: undefined })
  }

  /**
   * An operation that must wait for `state` to settle (a result the peer will not keep, or a
   * local stand-in for one), then runs `run`; its own result is a local stand-in too.
   */
  #deferred(state: ResultState, run: () => object): object {
    const local: ResultState = { rid: 0, state: 0, value: undefined, awaited: false, used: false, drop: true, pulled: true, detached: false, sent: true }
    const settle = (outcome: 1 | 2, value: unknown) => {
      local.detached = true
      this.#settle(local, outcome, value)
    }
    this.#promise(state).then(
      () => {
        const next = run()
        const inner = handleOf(next)?.result
        if (inner === undefined) return settle(1, next)
        this.#promise(inner).then((v) => settle(1, v), (e) => settle(2, e))
      },
      (e) => settle(2, e),
    )
    return makeProxy({ host: this.#host, base: 0, path: [], result: local, tracker: undefined })
  }

  #failed(err: unknown): object {
    return makeProxy({ host: this.#host, base: 0, path: [], result: localState(2, err), tracker: undefined })
  }

  /** Queues one message (its tag and fields) for the next batch. */
  #enqueue(...message: unknown[]): void {
    if (this.#releases.length > 0) this.#moveReleases()
    for (const field of message) this.#queue.push(field)
    this.#schedule()
  }

  // The flush waits one extra microtask hop: `await r.a().b` asks for `.b` in a job queued after
  // the first hop, and that read belongs in the same batch as the call it reads from.
  #schedule(): void {
    if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(this.#hopBound)
    }
  }

  // Everything queued in one tick leaves as one batch. The pull flag of each operation is decided
  // here, late: only results awaited by now are sent back (`await` and Promise.all ask in time);
  // the rest stay on the peer, for pipelining, until pulled or dropped here.
  #flush(): void {
    this.#scheduled = false
    if (this.#releaseTimer !== undefined) {
      clearImmediate(this.#releaseTimer)
      this.#releaseTimer = undefined
    }
    if (!this.#ready || this.#closeInfo !== undefined) return
    const unflushed = this.#unflushed
    for (let i = 0; i < unflushed.length; i += 2) {
      const state = unflushed[i] as ResultState
      state.sent = true
      if (state.awaited) {
        state.pulled = true
        // awaited and not built on: the peer may drop it as soon as it has answered
        if (!state.used) {
          state.drop = true
          this.#queue[unflushed[i + 1] as number] = 2
        }
      } else {
        this.#queue[unflushed[i + 1] as number] = 0
        this.#pending.delete(state.rid)
        this.#retained.register(state, state.rid, state)
        state.retained = true
      }
    }
    unflushed.length = 0
    if (this.#releases.length > 0) this.#moveReleases()
    if (this.#queue.length === 0) return
    const batch = this.#queue
    const transfer = this.#transfer
    this.#queue = []
    this.#transfer = undefined
    this.#sendNow(batch, transfer)
  }

  #sendNow(batch: unknown[], transfer?: Transferable[]): void {
    try {
      this.#transport.send(batch, transfer)
    } catch (err) {
      // A value the transport cannot serialize: send the messages one by one, fail the culprits.
      const messages = splitBatch(batch)
      if (messages.length === 1) return this.#sendFailed(messages[0]!, err)
      for (const msg of messages) {
        try {
          this.#transport.send(msg, transfer)
        } catch (e) {
          this.#sendFailed(msg, e)
        }
      }
    }
  }

  #sendFailed(msg: unknown[], err: unknown): void {
    const error = new TypeError(`a value could not be sent: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    const tag = msg[0] as number
    if (tag < OPS.length) {
      const state = this.#pending.get(msg[1] as Id)
      if (state !== undefined) {
        this.#pending.delete(state.rid)
        this.#settle(state, 2, error)
      }
    } else if (tag === RET) {
      this.#enqueue(THROW, msg[1], this.#encodeError(error))
    } else if (tag === SETTLE) {
      this.#enqueue(SETTLE, msg[1], 0, this.#encodeError(error))
    } else {
      this.#abort({ reason: 'error', error })
    }
  }

  /** Puts the waiting releases in the queue, in order with the messages around them. */
  #moveReleases(): void {
    const r = this.#releases
    // RELEASE, id, count
    for (let i = 0; i < r.length; i += 2) this.#queue.push(RELEASE, r[i], r[i + 1])
    r.length = 0
  }

  // Releases ride with the next batch, ahead of what is queued after them; alone, they leave on a later turn of the event loop, so a
  // call-reply-release exchange costs two messages, not three.
  #queueRelease(id: Id, count: number): void {
    if (this.#closeInfo !== undefined) return
    this.#releases.push(id, count)
    if (this.#releaseTimer === undefined && !this.#scheduled) {
      this.#releaseTimer = setImmediate(this.#flushBound)
      this.#releaseTimer.unref()
    }
  }

  // ---- results on this side (caller) ----

  #promise(state: ResultState): Promise<unknown> {
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
      if (this.#closeInfo !== undefined) {
        this.#settle(state, 2, new ConnectionClosedError(this.#closeInfo))
      } else {
        state.pulled = true
        this.#pending.set(state.rid, state)
        this.#enqueue(PULL, state.rid)
      }
    }
    return state.promise
  }

  #settle(state: ResultState, outcome: 1 | 2, value: unknown): void {
    if (state.state !== 0) return
    state.state = outcome
    state.value = value
    if (outcome === 2) appendLocalStack(value, this.#callStacks.get(state)?.stack)
    if (outcome === 1) state.resolve?.(value)
    else state.reject?.(value)
    state.resolve = state.reject = undefined
  }

  #release(h: Handle): void {
    if (h.tracker !== undefined) {
      const count = this.#imports.forget(h.tracker)
      if (count > 0) this.#queueRelease(h.tracker.id, count)
    } else if (h.result !== undefined && !h.result.detached && h.result.sent && !h.result.pulled) {
      if (h.result.retained) this.#retained.unregister(h.result)
      h.result.detached = true
      this.#settle(h.result, 2, new ReferenceError('this Remote was released'))
      this.#queueRelease(h.result.rid, 1)
    }
  }

  // ---- encoding hooks ----

  #markerOf(value: object): Marker | undefined {
    let h = handleOf(value)
    if (h === undefined || h.host !== this.#host) return undefined
    if (h.path.length > 0) h = handleOf(this.#op('get', h))!
    if (h.result !== undefined) {
      const r = h.result
      if (r.detached) {
        if (r.state === 2) throw r.value
        // the peer no longer holds it: send what it settled to (a Remote, or plain data)
        const v = r.value
        const inner = handleOf(v)
        if (inner !== undefined && inner.host === this.#host) return this.#markerOf(v as object)
        return { [TAG]: 'v', v: new Encoder(this.#encodeHost, { stacks: this.#stacks }).encode(v) }
      }
      if (r.drop) throw new Dropped(r)
      if (!r.sent) r.used = true
      return { [TAG]: 'h', i: r.rid }
    }
    if (h.tracker !== undefined && h.tracker.count === 0) throw new ReferenceError('this Remote was released')
    return { [TAG]: 'b', i: h.base }
  }

  #exportPromise(p: PromiseLike<unknown>): number {
    const pid = this.#exports.allocate()
    p.then(
      (v) => this.#sendSettle(pid, 1, v),
      (e) => this.#sendSettle(pid, 0, e),
    )
    return pid
  }

  #sendSettle(pid: Id, ok: 0 | 1, value: unknown): void {
    if (this.#closeInfo !== undefined) return
    let wire: unknown
    try {
      wire = ok ? this.#encodeValue(value, false) : this.#encodeError(value)
    } catch (err) {
      // a value that cannot cross (a symbol, a full export table): the promise rejects over there
      ok = 0
      wire = this.#encodeError(err)
    }
    this.#enqueue(SETTLE, pid, ok, wire)
  }

  #encodeValue(value: unknown, copy: boolean): unknown {
    if (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') return value
    const enc = new Encoder(this.#encodeHost, copy ? { stacks: this.#stacks, copy, visible } : { stacks: this.#stacks })
    let out: unknown
    try {
      out = enc.encode(value)
    } catch (err) {
      this.#unexport(enc)
      throw err
    }
    if (enc.transfer !== undefined) (this.#transfer ??= []).push(...enc.transfer)
    return out
  }

  /** Gives back the references an encoding took, when its message will not be sent. */
  #unexport(enc: Encoder): void {
    for (const id of enc.exported ?? []) this.#exports.release(id, 1)
    enc.exported = undefined
  }

  #encodeError(err: unknown): unknown {
    try {
      return new Encoder(this.#encodeHost, { stacks: this.#stacks }).encode(err)
    } catch (e) {
      return new Encoder(this.#encodeHost, { stacks: this.#stacks }).encode(
        new TypeError(`the error could not be sent: ${e instanceof Error ? e.message : String(e)}`),
      )
    }
  }

  // ---- decoding hooks ----

  #importObject(id: Id): unknown {
    if (!Number.isInteger(id) || id <= 0) throw new WireFault(`bad reference id ${id}`)
    const live = this.#imports.take(id)
    if (live !== undefined) return live
    const tracker: Tracker = { id, count: 1 }
    const proxy = makeProxy({ host: this.#host, base: id, path: [], result: undefined, tracker })
    this.#imports.add(id, proxy, tracker)
    return proxy
  }

  #importPromise(id: Id): Promise<unknown> {
    let d!: Deferred
    const p = new Promise((resolve, reject) => (d = { resolve, reject }))
    // a peer must not be able to crash this process with a rejection nobody here awaits
    p.catch(noop)
    if (!Number.isInteger(id) || id <= 0 || this.#peerPromises.has(id)) throw new WireFault(`bad promise id ${id}`)
    this.#peerPromises.set(id, d)
    return p
  }

  #local(id: Id): unknown {
    if (id === 0) return this.#rootOrThrow()
    const entry = id > 0 ? this.#exports.get(id) : undefined
    if (entry === undefined) throw new ReferenceError(`unknown or released reference #${id}`)
    return entry.value
  }

  #result(id: Id): { value: unknown } | Promise<unknown> {
    const entry = this.#exports.get(id)
    if (entry === undefined || id >= 0) throw new ReferenceError(`unknown or released result #${id}`)
    if (entry.state === 1) return { value: entry.value }
    if (entry.state === 2) throw entry.value
    return entry.promise!
  }

  #rootOrThrow(): object {
    if (this.#rootValue === undefined) throw new AccessError('this side serves no root object')
    return this.#rootValue
  }

  // ---- receiving ----

  #receive(data: unknown): void {
    if (this.#closeInfo !== undefined) return
    if (!Array.isArray(data)) return this.#protocolError('a frame must be a batch (an array)')
    const n = data.length
    let i = 0
    while (i < n) {
      if (this.#closeInfo !== undefined) return
      const length = messageLength(data, i)
      if (length < 0) return this.#protocolError(`malformed message with tag ${JSON.stringify(data[i])}`)
      try {
        this.#dispatch(data[i] as number, data, i)
      } catch (err) {
        if (err instanceof WireFault) return this.#abort({ reason: 'error', error: err })
        throw err
      }
      i += length
    }
  }

  // d[i] is the tag; its fields follow in d[i + 1 ...] (shapes in messages.ts)
  #dispatch(tag: number, d: unknown[], i: number): void {
    if (!this.#ready) {
      if (tag !== HELLO) throw new WireFault(`expected the handshake, got message ${tag}`)
      const version = d[i + 1]
      if (version !== PROTOCOL_VERSION) throw new WireFault(`protocol version mismatch: the peer speaks ${String(version)}, this side ${PROTOCOL_VERSION}`)
      this.#ready = true
      clearTimeout(this.#handshakeTimer)
      this.#readyResolve()
      if (this.#queue.length > 0 || this.#unflushed.length > 0) this.#flush()
      return
    }
    if (tag < OPS.length) return this.#serve(OPS[tag]!, d, i)
    switch (tag) {
      case RET:
      case THROW: {
        // RET, rid, value | THROW, rid, error
        const rid = d[i + 1] as Id
        const state = this.#pending.get(rid)
        if (state === undefined) return
        this.#pending.delete(rid)
        const wire = d[i + 2]
        let value: unknown
        let outcome: 1 | 2 = tag === RET ? 1 : 2
        try {
          value = isMarked(wire) ? new Decoder(this.#decodeHost).decode(wire) : wire
        } catch (err) {
          if (err instanceof WireFault) throw err
          value = err
          outcome = 2
        }
        this.#detach(state)
        this.#settle(state, outcome, value)
        return
      }
      case RELEASE:
        // RELEASE, id, count
        this.#exports.release(d[i + 1] as Id, d[i + 2] as number)
        return
      case SETTLE: {
        // SETTLE, pid, ok, value
        const pid = d[i + 1] as Id
        const deferred = this.#peerPromises.get(pid)
        if (deferred === undefined) return
        this.#peerPromises.delete(pid)
        try {
          const v = new Decoder(this.#decodeHost).decode(d[i + 3])
          if (d[i + 2]) deferred.resolve(v)
          else deferred.reject(v)
        } catch (err) {
          if (err instanceof WireFault) throw err
          deferred.reject(err)
        }
        return
      }
      case PULL: {
        // PULL, rid
        const rid = d[i + 1] as Id
        const entry = typeof rid === 'number' && rid < 0 ? this.#exports.get(rid) : undefined
        if (typeof rid !== 'number' || rid >= 0) throw new WireFault(`pull of a bad result id ${String(rid)}`)
        // not held: refused by a limit, or already released; the caller gets an error, not a close
        if (entry === undefined) return this.#enqueue(THROW, rid, this.#encodeError(new ReferenceError(`result ${rid} is not held here (refused by a limit, or released)`)))
        if (entry.state === 0) (entry as PendingEntry).pull = true
        else this.#reply(rid, entry)
        return
      }
      case BYE:
        this.#abort({ reason: 'peer' })
        return
      case HELLO:
        throw new WireFault('a second handshake')
    }
  }

  /** A pulled result arrived: the peer may drop it now; later operations run on the value here. */
  #detach(state: ResultState): void {
    state.detached = true
    if (state.retained) this.#retained.unregister(state)
    if (!state.drop) this.#queueRelease(state.rid, 1)
  }

  // ---- serving the peer's operations (callee) ----

  // op, rid, target, path, pull, argc, args...
  #serve(op: Op, d: unknown[], i: number): void {
    const rid = d[i + 1] as Id
    const target = d[i + 2] as Id
    const wirePath = d[i + 3]
    const pull = d[i + 4]
    const argc = d[i + 5] as number
    if (typeof rid !== 'number' || rid >= 0 || typeof target !== 'number') throw new WireFault(`malformed '${op}' message`)
    // a one-name path crosses as the name alone
    const path = (typeof wirePath === 'string' || typeof wirePath === 'number' ? [wirePath] : wirePath) as Path
    if (!Array.isArray(path)) throw new WireFault(`malformed '${op}' message`)
    // pull 2: answer and forget (the caller will not build on it, so it is not stored)
    const entry: PendingEntry = { value: undefined, refs: 1, state: 0, pull: pull !== 0, drop: pull === 2, copy: op === 'obtain' }
    if (this.#running >= this.#limits.maxInFlight || this.#exports.size >= this.#limits.maxExports) {
      const what = this.#running >= this.#limits.maxInFlight ? `operations in flight (limit ${this.#limits.maxInFlight})` : `exports (limit ${this.#limits.maxExports})`
      // not stored: the peer's later release of rid finds nothing and is ignored
      return this.#enqueue(THROW, rid, this.#encodeError(new ProtocolError(`too many ${what} on this connection`)))
    }
    if (!entry.drop) this.#exports.setResult(rid, entry)
    let t: unknown
    let dec: Decoder | undefined
    let holder: { v: unknown } | undefined
    let args: unknown[] = argc === 0 ? NO_ARGS : argc > 0 ? d.slice(i + 6, i + 6 + argc) : (undefined as never)
    // inline arguments are primitives; objects cross encoded (argc -1), so markers are honoured
    for (let k = 0; k < argc; k++) {
      const v = args[k]
      if (typeof v === 'object' ? v !== null : typeof v === 'function') throw new WireFault('an inline argument must be a primitive')
    }
    try {
      t = target !== 0 ? this.#targetOf(target) : NO_ROOT_OPS.has(op) ? undefined : this.#rootOrThrow()
      if (argc === -1) {
        dec = new Decoder(this.#decodeHost)
        holder = { v: undefined }
        dec.decodeInto(holder, d[i + 6])
      }
    } catch (err) {
      if (err instanceof WireFault) throw err
      return this.#finish(rid, entry, 2, err)
    }
    let result: unknown
    try {
      if (t instanceof Promise || dec?.pending !== undefined) {
        result = Promise.all([t, dec?.settle()]).then(([tv]) => handlers[op](this.#ctx, tv, path, holder === undefined ? args : argList(holder.v)))
      } else {
        if (holder !== undefined) args = argList(holder.v)
        result = handlers[op](this.#ctx, t, path, args)
      }
    } catch (err) {
      return this.#finish(rid, entry, 2, err)
    }
    if (result === null || (typeof result !== 'object' && typeof result !== 'function') || typeof (result as PromiseLike<unknown>).then !== 'function') {
      return this.#finish(rid, entry, 1, result)
    }
    // a promise, a thenable, or a RemotePromise of some connection (forwarding): wait for it
    this.#running++
    const p = Promise.resolve(result as PromiseLike<unknown>)
    entry.promise = p
    p.then(
      (v) => {
        this.#running--
        this.#finish(rid, entry, 1, v)
      },
      (e) => {
        this.#running--
        this.#finish(rid, entry, 2, e)
      },
    )
  }

  #targetOf(id: Id): unknown {
    const entry = this.#exports.get(id)
    if (entry === undefined) throw new ReferenceError(`unknown or released reference #${id}`)
    if (entry.state === 1) return entry.value
    if (entry.state === 2) throw entry.value
    return entry.promise
  }

  #finish(rid: Id, entry: PendingEntry, outcome: 1 | 2, value: unknown): void {
    entry.state = outcome
    entry.value = value
    if (entry.pull && this.#closeInfo === undefined && (entry.drop || this.#exports.get(rid) === entry)) this.#reply(rid, entry)
  }

  #reply(rid: Id, entry: ExportEntry): void {
    if (entry.state === 1) {
      let wire: unknown
      try {
        wire = this.#encodeValue(entry.value, (entry as PendingEntry).copy === true)
      } catch (err) {
        return this.#enqueue(THROW, rid, this.#encodeError(err))
      }
      if (this.#releases.length > 0) this.#moveReleases()
      this.#queue.push(RET, rid, wire)
      // a reply waits for no `await`: it may leave a hop sooner
      if (!this.#scheduled) {
        this.#scheduled = true
        queueMicrotask(this.#flushBound)
      }
    } else {
      this.#enqueue(THROW, rid, this.#encodeError(entry.value))
    }
  }

  #protocolError(message: string): void {
    this.#abort({ reason: 'error', error: new WireFault(message) })
  }

  // ---- the one abort path ----

  #abort(info: CloseInfo): void {
    if (this.#closeInfo !== undefined) return
    this.#closeInfo = info
    clearTimeout(this.#handshakeTimer)
    const err = new ConnectionClosedError(info)
    this.#readyReject(err)
    for (const state of this.#pending.values()) this.#settle(state, 2, err)
    this.#pending.clear()
    for (let i = 0; i < this.#unflushed.length; i += 2) this.#settle(this.#unflushed[i] as ResultState, 2, err)
    this.#unflushed.length = 0
    for (const d of this.#peerPromises.values()) d.reject(err)
    this.#peerPromises.clear()
    this.#queue = []
    this.#releases = []
    this.#transfer = undefined
    this.#exports.clear()
    this.#imports.clear()
    try {
      const closing = this.#transport.close(info)
      if (closing instanceof Promise) closing.catch(noop)
    } finally {
      this.#closedResolve(info)
      this.emit('close', info)
      if (info.reason === 'error' && this.listenerCount('error') > 0) this.emit('error', info.error)
    }
  }
}

interface PendingEntry extends ExportEntry {
  pull?: boolean
  drop?: boolean
  copy?: boolean
}

/** Thrown while encoding: an argument is a result the peer does not keep; wait for it first. */
class Dropped {
  constructor(readonly state: ResultState) {}
}

/** Splits a flat batch into its messages (for the slow path of a failed send). */
function splitBatch(batch: unknown[]): unknown[][] {
  const out: unknown[][] = []
  for (let i = 0; i < batch.length; ) {
    const length = Math.max(1, messageLength(batch, i))
    out.push(batch.slice(i, i + length))
    i += length
  }
  return out
}

/** A decoded argument list; anything else is a broken peer. */
function argList(v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new WireFault('an argument list must be an array')
  return v
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}

function validateOptions(o: ConnectionOptions): void {
  if (o === null || typeof o !== 'object') throw new TypeError('connection options must be an object')
  if (o.root !== undefined && (o.root === null || (typeof o.root !== 'object' && typeof o.root !== 'function'))) {
    throw new TypeError('options.root must be an object or function')
  }
  for (const k of ['allowSet', 'allowDelete', 'stacks', 'localStacks'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`options.${k} must be a boolean`)
  }
  if (o.limits !== undefined) {
    if (o.limits === null || typeof o.limits !== 'object') throw new TypeError('options.limits must be an object')
    for (const [k, v] of Object.entries(o.limits)) {
      if (v !== undefined && (typeof v !== 'number' || !(v > 0))) throw new TypeError(`options.limits.${k} must be a positive number`)
    }
    const t = o.limits.handshakeTimeout
    if (t !== undefined && t > 2 ** 31 - 1) throw new TypeError('options.limits.handshakeTimeout must be at most 2147483647 ms')
  }
}
