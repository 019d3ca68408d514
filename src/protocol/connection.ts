// The public Connection: its API, ready/closed, events and the one idempotent abort path. It
// composes the parts (outbox, caller, callee, boxing, handshake, receive table, heartbeat) and
// speaks to a Transport only; it never learns what carries it.
// Longer than 400 lines because it is the whole public surface of a connection, each member with
// its doc comment (classic mode's included); the logic of each concern lives in its part.
import { EventEmitter } from 'node:events'
import { AuthenticationError, ConnectionClosedError, FRAME_TOO_LARGE, ProtocolError, type CloseInfo } from '../errors.ts'
import { appendLocalStack, captureCallSite } from '../codec/errors.ts'
import { handleOf, makeProxy, type Handle, type ProxyHost } from '../proxy/remote.ts'
import { Boxing, type BoxingParts } from './boxing.ts'
import { Callee } from './callee.ts'
import { CLASSIC } from './handlers.ts'
import { Caller } from './caller.ts'
import { WireFault } from './fault.ts'
import { byeInfo, idOf, reasonText } from './goodbye.ts'
import { Handshake, Stage } from './handshake.ts'
import { Heartbeat } from './heartbeat.ts'
import { traceClose, traceOpen } from './tracing.ts'
import { BEAT, BYE, CANCEL, HELLO, META, OPS, PULL, RELEASE, RET, SDATA, SETTLE, THROW, type Id } from './messages.ts'
import { resolveOptions, validateOptions, type Resolved } from './options.ts'

// what the server layer reads of the defaults (it sits on the public core only)
export { DEFAULT_LIMITS } from './options.ts'
import { Outbox, Soon, isOp } from './outbox.ts'
import { receiver, type Receiver } from './receive.ts'
import { Registry } from './registry.ts'
import { ExportTable, ImportTable } from './tables.ts'
import type { Transport } from '../transport/transport.ts'
import type { CallOptions, ConnectionOptions, Remote, RemotePromise, Settled } from '../types.ts'

const noop = () => {}

/**
 * @internal The option key under which listen() passes a root factory: called with the
 * connection once the handshake is done (after authentication, so it can read `peerUser`), before
 * any operation is served; its result is this side's root. A symbol, so it is no user option.
 */
export const ROOT_FACTORY = Symbol('farside.rootFactory')

/** Connection options plus the internal root factory. */
export type ServeOptions = ConnectionOptions & { [ROOT_FACTORY]?: (conn: Connection) => object }

/** The root a factory makes for `conn`; TypeError unless it is an object or function. */
function rootFrom(factory: (conn: Connection) => object, conn: Connection): object {
  const root: unknown = factory(conn)
  if (root === null || (typeof root !== 'object' && typeof root !== 'function')) throw new TypeError('the root factory must return an object or function')
  return root
}

/** Gives a failed call's error the local part of its stack, then lets it go on failing. */
function markFailure(err: unknown): never {
  appendLocalStack(err, captureCallSite())
  throw err
}

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
  /** Streams crossing the connection, both ways, not yet ended. */
  streams: number
}

/**
 * A connection to a peer. Made by pair(), connectPort(), worker(), serveParent() and the other
 * transports' functions; never constructed by hand.
 */
export class Connection<Root = unknown> extends EventEmitter {
  /**
   * The peer's root object. Usable at once: operations queue until the handshake ends. Typed by
   * the connection's type parameter (`worker<Engine>(url)` gives `Connection<Engine>`); without
   * one it is `Remote<unknown>`, which shows nothing until it is given a type.
   */
  readonly root: Remote<Root>
  /** Resolves with why the connection closed; never rejects. */
  readonly closed: Promise<CloseInfo>
  /** Resolves when the handshake is done; rejects if the connection closes first. */
  readonly ready: Promise<void>

  #transport: Transport
  #registry: Registry
  #exports: ExportTable
  #imports: ImportTable
  #outbox: Outbox
  #caller: Caller
  #callee: Callee
  #boxing: Boxing
  #handshake: Handshake
  #heartbeatMs: number
  #heartbeat: Heartbeat | undefined
  #readyResolve!: () => void
  #readyReject!: (e: unknown) => void
  #closedResolve!: (info: CloseInfo) => void
  #closeInfo: CloseInfo | undefined
  #handshakeTimer: ReturnType<typeof setTimeout> | undefined
  #limits: Resolved['limits']
  /** Names the peer attached in this side's registry; they go when the connection closes. */
  #attached = new Map<string, unknown>()
  /** Set when this side closes after telling the peer why: the transport then ends gracefully. */
  #told = false
  #via = { transport: 'custom', peer: '' }

  /** @internal Use the transports' functions (pair, connectPort, worker, ...) instead. */
  constructor(transport: Transport, options: ServeOptions = {}) {
    super()
    try {
      validateOptions(options)
    } catch (err) {
      // the transport may already hold a port or a process: let it go before refusing
      void transport.close({ reason: 'local' })
      throw err
    }
    const o = resolveOptions(options)
    this.#transport = transport
    this.#registry = options.registry ?? new Registry()
    this.#heartbeatMs = o.heartbeat
    const closed = () => this.#closeInfo !== undefined
    this.#exports = new ExportTable(o.limits.maxExports)
    this.#outbox = new Outbox(transport, {
      ready: () => this.#handshake.stage === Stage.Ready,
      closed,
      kept: (state) => this.#caller.kept(state),
      failed: (msg, err) => this.#sendFailed(msg, err),
      fill: (q) => this.#boxing.streams.fill(q),
    })
    this.#imports = new ImportTable((t) => this.#outbox.release(t.id, t.count))
    this.#caller = new Caller({
      outbox: this.#outbox,
      imports: this.#imports,
      stacks: o.stacks,
      timeout: o.timeout,
      closeInfo: () => this.#closeInfo,
      peerReadsMeta: () => this.#handshake.stage === Stage.Ready && this.#handshake.peerFeatures.has('meta'),
    })
    const factory = options[ROOT_FACTORY]
    const host: ProxyHost = {
      connection: this,
      op: (op, h, args) => this.#caller.op(op, h, args),
      assign: (h, value) => {
        const state = handleOf(this.#caller.op('set', h, [value]))!.result!
        // `r.x = v` cannot return a promise: its failure goes to the 'error' event, if listened to
        this.#caller.promise(state).catch((err) => {
          if (this.listenerCount('error') > 0) this.emit('error', err)
        })
      },
      promise: (s) => this.#caller.promise(s),
      release: (h) => this.#caller.release(h),
      ...(o.localStacks ? { markFailure: markFailure } : {}),
    }
    this.#caller.host = host
    const boxParts: BoxingParts = {
      exports: this.#exports,
      imports: this.#imports,
      outbox: this.#outbox,
      stacks: o.stacks,
      root: o.root,
      closed,
      markerOf: (v) => this.#caller.markerOf(v),
      makeImport: (id, tracker) => makeProxy({ host, base: id, path: [], result: undefined, tracker }),
      maxHeld: o.limits.maxExports,
      maxStreams: o.limits.maxStreams,
      streamWindow: o.limits.streamWindow,
      wholeBuffers: transport.wholeBuffers === true,
      calls: () => this.#caller.issued + this.#callee.served,
    }
    this.#boxing = new Boxing(boxParts)
    // the caller and boxing need each other: boxing encodes the caller's arguments, and asks the
    // caller for the markers of its own proxies
    this.#caller.boxing = this.#boxing
    const held = new WeakSet<object>()
    this.#callee = new Callee({
      connection: this,
      exports: this.#exports,
      outbox: this.#outbox,
      boxing: this.#boxing,
      ctx: {
        registry: this.#registry,
        allowSet: o.allowSet,
        allowDelete: o.allowDelete,
        // this side's own object, served to this peer: not a proxy of anyone's, not a delivered copy
        owned: (v) => ((v !== null && typeof v === 'object') || typeof v === 'function') && handleOf(v) === undefined && !held.has(v as object)
          ? this.#exports.has(v as object) || v === boxParts.root
          : false,
        held,
        attached: this.#attached,
        maxAttached: o.limits.maxAttached,
        classic: o.classic ? () => (this.#classicServed ??= this.#serveClassic()) : undefined,
      },
      limits: o.limits,
      closed,
    })
    this.#limits = o.limits
    this.#handshake = new Handshake(
      { root: o.root !== undefined || factory !== undefined, frame: o.limits.maxFrameBytes, secret: o.secret, user: o.user },
      {
        send: (message) => this.#outbox.send(message),
        ready: () => this.#ready(factory === undefined ? undefined : () => (boxParts.root = rootFrom(factory, this))),
        refuse: (error, tell) => {
          if (tell.length > 0) this.#outbox.send(tell)
          this.#told = tell.length > 0
          this.#abort({ reason: 'error', error })
        },
        closed,
      },
    )
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve))
    this.ready = new Promise<void>((resolve, reject) => {
      this.#readyResolve = resolve
      this.#readyReject = reject
    })
    this.ready.catch(noop)
    this.root = makeProxy(this.#caller.rootHandle()) as Remote<Root>

    this.#handshakeTimer = setTimeout(() => {
      this.#fail(new WireFault(`no handshake from the peer within ${o.limits.handshakeTimeout} ms`))
    }, o.limits.handshakeTimeout)
    this.#handshakeTimer.unref?.()
    const receive = receiver({
      table: this.#receivers(),
      handshake: (d, i) => this.#hello(d, i),
      ready: () => this.#handshake.stage === Stage.Ready,
      closed,
      seen: () => {
        if (this.#heartbeat !== undefined) this.#heartbeat.frames++
      },
      fault: (error) => this.#fail(error),
    })
    // a stranger may make this side buffer only a small frame until the handshake is done
    transport.setLimits?.({ readFrame: Math.min(o.limits.handshakeBytes, o.limits.maxFrameBytes), writeFrame: o.limits.maxFrameBytes, outgoing: o.limits.maxOutgoingBytes })
    transport.start({ message: receive, close: (info) => this.#abort(info), fault: (error) => this.#fail(error) })
    this.#outbox.send(this.#handshake.hello())
  }

  /** @internal Throws TypeError for options a connection would refuse (`extra`: see validateOptions). */
  static validate(options: ConnectionOptions, extra: readonly string[] = []): void {
    validateOptions(options, extra)
  }

  /**
   * A pending Remote to the object the peer exported under `name`, typed as `T` (pipelinable:
   * `conn.fetch<Db>('db').query(q)` is one round trip). Rejects with RemoteError if the peer
   * exports nothing by that name; TypeError at once if `name` is not a string.
   */
  fetch<T = unknown>(name: string): RemotePromise<T> {
    if (typeof name !== 'string') throw new TypeError('fetch() needs a name')
    return this.#caller.op('fetch', this.#caller.rootHandle(), [name]) as RemotePromise<T>
  }

  /** The names the peer exports. */
  async browse(): Promise<string[]> {
    return (await this.#caller.op('browse', this.#caller.rootHandle())) as string[]
  }

  /** Asks the peer to export, under `name`, an object it owns (a Remote from this connection). */
  async attach(remote: unknown, name: string): Promise<void> {
    const h = handleOf(remote)
    if (h === undefined || h.host.connection !== this) throw new TypeError('attach() needs a Remote from this connection')
    if (typeof name !== 'string' || name === '') throw new TypeError('attach() needs a non-empty name')
    await this.#caller.op('attach', this.#caller.rootHandle(), [remote, name])
  }

  /** Offers `value` to the peer under `name` (this side's registry). */
  export(name: string, value: unknown): void {
    this.#registry.export(name, value)
  }

  /** Stops offering `name`. Returns whether it was offered. */
  unexport(name: string): boolean {
    return this.#registry.unexport(name)
  }

  // ---- classic mode (RPyC's SlaveService): the caller's side; src/classic serves it ----
  // The peer's service is fetched by a reserved name, which a peer without `classic: true`
  // refuses with AccessError; the serving side is injected (serveClassic) so the core does not
  // import src/classic.

  /** @internal Set by src/classic when it loads: makes one connection's classic service. */
  static serveClassic: ((conn: Connection) => object) | undefined
  #classic: any
  #classicServed: object | undefined

  #serveClassic(): object {
    if (Connection.serveClassic === undefined) throw new Error('classic mode is not loaded in this process: import farside from its package index')
    return Connection.serveClassic(this)
  }

  /** @internal The peer's classic service: one RemotePromise, kept, so every use pipelines on it. */
  classicService(): any {
    return (this.#classic ??= this.fetch(CLASSIC))
  }

  /**
   * The peer's built-in and installed modules, each loaded there on first use and resolved from
   * its working directory: `await conn.modules.os.hostname()` is one round trip;
   * `conn.modules['node:fs']`, `conn.modules.lodash`. A missing module rejects, naming it.
   * Classic mode: without `classic: true` on the peer, every use rejects with AccessError.
   */
  get modules(): any {
    return this.classicService().modules
  }

  /**
   * Evaluates the expression `expr` in this connection's namespace on the peer (shared with
   * execute() and run()); resolves with its value, a promise's settled value, crossing as any
   * result does. Rejects with what it throws (SyntaxError for a statement). Classic mode.
   */
  async eval(expr: string): Promise<any> {
    if (typeof expr !== 'string') throw new TypeError('eval() needs an expression string')
    return await this.classicService().eval(expr)
  }

  /**
   * Runs the statements `code` in this connection's namespace on the peer: its top-level
   * declarations and assignments stay there for later eval(), execute() and run(). Resolves
   * when they have run (no top-level await). Classic mode.
   */
  async execute(code: string): Promise<void> {
    if (typeof code !== 'string') throw new TypeError('execute() needs a code string')
    await this.classicService().execute(code)
  }

  /**
   * Teleports `fn`: its source runs on the peer, in this connection's namespace, called with
   * `args` (which cross as any arguments do: callbacks call home). Rejects before running with
   * a ReferenceError naming each variable the function closes over that the peer does not
   * define. Default parameters, async and arrow functions work. Classic mode.
   */
  async run<F extends (...args: any[]) => unknown>(fn: F, ...args: Parameters<F>): Promise<Settled<Awaited<ReturnType<F>>>> {
    if (typeof fn !== 'function') throw new TypeError('run() needs a function')
    return await this.classicService().run(Function.prototype.toString.call(fn), args)
  }

  /**
   * Round-trip time to the peer, in milliseconds. With `timeout` (ms) or `signal`, rejects with
   * TimeoutError or AbortError instead of waiting on a peer that does not answer.
   */
  async ping(options: CallOptions = {}): Promise<number> {
    const start = performance.now()
    const h: Handle = { ...this.#caller.rootHandle(), opts: options }
    await this.#caller.op('ping', h, [0])
    return performance.now() - start
  }

  /** Counters; see ConnectionStats. */
  stats(): ConnectionStats {
    return {
      calls: this.#caller.calls,
      inFlight: this.#caller.pending.size,
      exported: this.#exports.size,
      imported: this.#imports.size,
      bytesIn: this.#transport.bytesIn,
      bytesOut: this.#transport.bytesOut,
      streams: this.#boxing.streams.size,
    }
  }

  /**
   * The kind of transport: 'pair', 'port', 'worker', 'fork', 'spawn', 'tcp', 'unix', 'tls' or
   * 'stream' (set by the function that made the connection; 'custom' for a hand-made one).
   */
  get transport(): string {
    return this.#via.transport
  }

  /**
   * Who is on the far side, as the transport knows it: 'thread 3', 'pid 4121', '127.0.0.1:52114',
   * a socket path, 'parent thread'; '' if it cannot tell (pair, port).
   */
  get peer(): string {
    return this.#via.peer
  }

  /** @internal Called by the function that made the connection: what `transport` and `peer` say. */
  describe(transport: string, peer: string): this {
    this.#via = { transport, peer }
    return this
  }

  /**
   * Lets the process exit while this connection is open, as `worker.unref()` and
   * `socket.unref()` do: the connection's port, worker, socket or child process no longer keeps
   * the event loop alive (calls still work while something else does). Idempotent; returns the
   * connection. A no-op on a closed connection.
   */
  unref(): this {
    if (this.#closeInfo === undefined) this.#transport.ref?.(false)
    return this
  }

  /** Undoes unref(): the connection keeps the process alive again while it is open. Idempotent. */
  ref(): this {
    if (this.#closeInfo === undefined) this.#transport.ref?.(true)
    return this
  }

  /** Whether the connection is closed. */
  get isClosed(): boolean {
    return this.#closeInfo !== undefined
  }

  /**
   * The user name the peer authenticated as (its `user` option), once the handshake is done;
   * undefined if it sent none. With a per-user secret (listen's `users`) the peer proved it.
   */
  get peerUser(): string | undefined {
    return this.#handshake.peerUser
  }

  /** The features the peer said it speaks in its handshake (empty before it). */
  get peerFeatures(): ReadonlySet<string> {
    return this.#handshake.peerFeatures
  }

  /**
   * Closes the connection: everything pending rejects with ConnectionClosedError, every export is
   * dropped, and the transport is released (a worker or child started by farside is stopped).
   * Idempotent; resolves when the transport is down.
   */
  async close(): Promise<void> {
    if (this.#closeInfo === undefined) {
      if (this.#handshake.stage === Stage.Ready) {
        // what was queued before close() still leaves, in order, ahead of the goodbye
        this.#outbox.flush()
        // [BYE, reason]
        this.#outbox.send([BYE, 'close'])
      }
      this.#abort({ reason: 'local' })
    }
    await this.#transport.close({ reason: 'local' })
  }

  // ---- receiving ----

  /** Receivers by tag once the handshake is done (shapes in messages.ts). */
  #receivers(): Receiver[] {
    const t: Receiver[] = []
    const serve = (d: unknown[], i: number) => this.#callee.serve(OPS[d[i] as number]!, d, i)
    for (let op = 0; op < OPS.length; op++) t[op] = serve
    // [RET, rid, value] | [THROW, rid, error]
    t[RET] = (d, i) => this.#caller.answer(idOf(d[i + 1]), true, d[i + 2])
    t[THROW] = (d, i) => this.#caller.answer(idOf(d[i + 1]), false, d[i + 2])
    // [RELEASE, id, count]
    t[RELEASE] = (d, i) => this.#exports.release(d[i + 1] as Id, d[i + 2] as number)
    // [SETTLE, pid, ok, value]
    t[SETTLE] = (d, i) => this.#boxing.settle(idOf(d[i + 1]), d[i + 2], d[i + 3])
    // [PULL, rid]
    t[PULL] = (d, i) => this.#callee.pull(d[i + 1])
    // [CANCEL, rid]
    t[CANCEL] = (d, i) => this.#callee.cancel(d[i + 1])
    // [META, rid, metadata]: for the operation that follows
    t[META] = (d, i) => this.#callee.meta(d[i + 1], d[i + 2])
    // [BEAT, answer]: 0 asks for an answer
    t[BEAT] = (d, i) => {
      if (d[i + 1] === 0) this.#outbox.push(Soon.Reply, BEAT, 1)
    }
    // [BYE, reason]: 'close', or why the peer gave up on this connection
    t[BYE] = (d, i) => this.#abort(byeInfo(d[i + 1]))
    t[HELLO] = (d, i) => this.#hello(d, i)
    this.#boxing.streams.receivers(t)
    return t
  }

  #hello(d: unknown[], i: number): void {
    this.#handshake.receive(d, i)
  }

  /** The handshake is done: make the root (from a factory), start the heartbeat, let operations go. */
  #ready(makeRoot?: () => void): void {
    clearTimeout(this.#handshakeTimer)
    const l = this.#limits
    this.#transport.setLimits?.({ readFrame: l.maxFrameBytes, writeFrame: this.#handshake.peerFrame, outgoing: l.maxOutgoingBytes })
    try {
      makeRoot?.()
    } catch (error) {
      return this.#abort({ reason: 'error', error })
    }
    if (this.#heartbeatMs > 0) {
      this.#heartbeat = new Heartbeat(
        this.#heartbeatMs,
        () => this.#outbox.push(Soon.Reply, BEAT, 0),
        (error) => this.#abort({ reason: 'error', error }),
      )
    }
    this.#readyResolve()
    traceOpen(this)
    if (this.#outbox.waiting) this.#outbox.flush()
  }

  /** A message of ours could not be serialized: fail what it was for, not the connection. */
  #sendFailed(msg: unknown[], err: unknown): void {
    const error = (err as { code?: unknown })?.code === FRAME_TOO_LARGE
      ? new ProtocolError(`${(err as Error).message}: send less at once, or raise limits.maxFrameBytes on the peer`, { cause: err })
      : new TypeError(`a value could not be sent: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
    const tag = msg[0]
    if (isOp(tag)) this.#caller.sendFailed(msg[1] as Id, error)
    else if (tag === RET) this.#outbox.reply(THROW, msg[1] as Id, this.#boxing.encodeError(error))
    else if (tag === SETTLE) this.#outbox.push(Soon.Reply, SETTLE, msg[1], 0, this.#boxing.encodeError(error))
    else if (tag === SDATA) this.#boxing.streams.sendFailed(msg, error)
    else this.#abort({ reason: 'error', error })
  }

  // ---- the one abort path ----

  /**
   * A fault of the peer's (a broken rule, a limit crossed, no handshake in time): tell it why in
   * a goodbye, where the transport can still carry one, then close.
   */
  #fail(error: Error): void {
    if (this.#closeInfo !== undefined) return
    // [BYE, reason]
    this.#outbox.send([BYE, reasonText(error)])
    this.#told = true
    this.#abort({ reason: 'error', error })
  }

  #abort(info: CloseInfo): void {
    if (this.#closeInfo !== undefined) return
    this.#closeInfo = info
    clearTimeout(this.#handshakeTimer)
    this.#heartbeat?.stop()
    // an authentication failure is the error itself for `ready` and every pending call
    const err = info.error instanceof AuthenticationError ? info.error : new ConnectionClosedError(info)
    this.#readyReject(err)
    this.#caller.abort(err)
    this.#callee.abort(err)
    this.#boxing.abort(err)
    this.#outbox.clear()
    // what the peer attached leaves with it (unless this side exported something else there since)
    for (const [name, value] of this.#attached) if (this.#registry.get(name) === value) this.#registry.unexport(name)
    this.#attached.clear()
    this.#exports.clear()
    this.#imports.clear()
    try {
      // what we told the peer (DENY) must not be cut off by a reset
      const closing = this.#transport.close(this.#told ? { reason: 'local' } : info)
      if (closing instanceof Promise) closing.catch(noop)
    } finally {
      this.#closedResolve(info)
      traceClose(this, info)
      this.emit('close', info)
      if (info.reason === 'error' && this.listenerCount('error') > 0) this.emit('error', info.error)
    }
  }
}
