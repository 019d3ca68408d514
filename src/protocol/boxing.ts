// The hosts the codec calls while it encodes and decodes for one connection: exporting objects
// and promises, importing the peer's, resolving references back to this side's own objects and
// results. The codec decides how a value crosses; this file gives it this connection's tables.
import { AccessError, ProtocolError } from '../errors.ts'
import { Decoder, Encoder, TAG, WIRE_THENABLE, isWireThenable, type DecodeHost, type EncodeHost, type Marker } from '../codec/codec.ts'
import { visible } from './policy.ts'
import { WireFault } from './fault.ts'
import { SETTLE, type Id } from './messages.ts'
import { Soon, type Outbox } from './outbox.ts'
import type { ExportTable, ImportTable, Tracker } from './tables.ts'
import { Streams } from './streams.ts'

interface Deferred {
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
}

/** What boxing needs from the rest of the connection. */
export interface BoxingParts {
  exports: ExportTable
  imports: ImportTable
  outbox: Outbox
  stacks: boolean
  root: object | undefined
  closed(): boolean
  /** The marker of a proxy of this connection (the caller knows its results); else undefined. */
  markerOf(value: object): Marker | undefined
  /** A new proxy of the peer's export `id` holding one reference. */
  makeImport(id: Id, tracker: Tracker): object
  /** Most of the peer's promises and objects this side keeps at once (limits.maxExports). */
  maxHeld: number
  /** limits.maxStreams and limits.streamWindow. */
  maxStreams: number
  streamWindow: number
  /** Whether the transport carries a typed array's whole buffer (Transport.wholeBuffers). */
  wholeBuffers: boolean
  /** A count that moves with every call made or served (streams yield to calls). */
  calls(): number
}

const noop = () => {}

export class Boxing {
  readonly encodeHost: EncodeHost
  readonly decodeHost: DecodeHost
  /** The streams crossing this connection (streams.ts). */
  readonly streams: Streams
  #p: BoxingParts
  /** Promises the peer sent by reference, by id, until they settle. */
  #peerPromises = new Map<Id, Deferred>()
  /** While set, decoded references are released at once (a late answer nobody waits for). */
  #discarding = false

  constructor(parts: BoxingParts) {
    this.#p = parts
    this.encodeHost = {
      markerOf: (v) => parts.markerOf(v),
      exportObject: (v) => parts.exports.export(v),
      exportPromise: (p) => this.#exportPromise(p),
      exportStream: (v) => this.streams.export(v),
    }
    this.decodeHost = {
      importObject: (id) => this.#importObject(id),
      importPromise: (id) => this.#importPromise(id),
      local: (id) => this.#local(id),
      result: (id) => this.#result(id),
      importStream: (m) => this.streams.import(m, this.#discarding),
    }
    this.streams = new Streams({
      outbox: parts.outbox,
      encode: (v) => this.encodeValue(v, false),
      decode: (w) => this.decode(w),
      encodeError: (e) => this.encodeError(e),
      max: parts.maxStreams,
      window: parts.streamWindow,
      wholeBuffers: parts.wholeBuffers,
      closed: () => parts.closed(),
      calls: parts.calls,
    })
  }

  /** Encodes a value for a reply or a settlement; `copy` for obtain(). Throws what cannot cross. */
  encodeValue(value: unknown, copy: boolean): unknown {
    if (typeof value !== 'object' && typeof value !== 'function' && typeof value !== 'symbol') return value
    const enc = new Encoder(this.encodeHost, copy ? { stacks: this.#p.stacks, copy, visible } : { stacks: this.#p.stacks })
    let out: unknown
    try {
      out = enc.encode(value)
    } catch (err) {
      this.unexport(enc)
      throw err
    }
    if (enc.transfer !== undefined) this.#p.outbox.transfer(enc.transfer)
    return out
  }

  /** Encodes `value` as a reference to it, whatever its kind (deliver()); primitives as themselves. */
  encodeRef(value: unknown): unknown {
    if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return value
    return { [TAG]: 'r', i: this.#p.exports.export(value) }
  }

  /** Encodes an error; one that cannot be sent is replaced by a TypeError saying why. */
  encodeError(err: unknown): unknown {
    try {
      return new Encoder(this.encodeHost, { stacks: this.#p.stacks }).encode(err)
    } catch (e) {
      return new Encoder(this.encodeHost, { stacks: this.#p.stacks }).encode(
        new TypeError(`the error could not be sent: ${e instanceof Error ? e.message : 'it cannot cross'}`),
      )
    }
  }

  /** Gives back the references an encoding took, when its message will not be sent. */
  unexport(enc: Encoder): void {
    for (const id of enc.exported ?? []) this.#p.exports.release(id, 1)
    enc.exported = undefined
    for (const m of enc.streams ?? []) this.streams.drop(m)
    enc.streams = undefined
  }

  /** Decodes a value that names no pending result (a reply, a settlement). */
  decode(wire: unknown): unknown {
    return new Decoder(this.decodeHost).decode(wire)
  }

  /**
   * Decodes a reply nobody waits for any more (its call was cancelled) only to give back the
   * references it carries, so the peer's table does not keep them.
   */
  discard(wire: unknown): void {
    this.#discarding = true
    try {
      new Decoder(this.decodeHost).decode(wire)
    } catch (err) {
      if (err instanceof WireFault) throw err
    } finally {
      this.#discarding = false
    }
  }

  /** A SETTLE arrived: settle the peer's promise `pid` (unknown ids are ignored). */
  settle(pid: Id, ok: unknown, wire: unknown): void {
    const deferred = this.#peerPromises.get(pid)
    if (deferred === undefined) return
    this.#peerPromises.delete(pid)
    try {
      const v = this.decode(wire)
      if (ok && isWireThenable(v)) deferred.reject(new TypeError(WIRE_THENABLE))
      else if (ok) deferred.resolve(v)
      else deferred.reject(v)
    } catch (err) {
      if (err instanceof WireFault) throw err
      deferred.reject(err)
    }
  }

  /** Rejects every promise of the peer's (the connection closed). */
  abort(err: unknown): void {
    for (const d of this.#peerPromises.values()) d.reject(err)
    this.#peerPromises.clear()
    this.streams.abort(err)
  }

  #exportPromise(p: PromiseLike<unknown>): number {
    const pid = this.#p.exports.allocate()
    p.then(
      (v) => this.#sendSettle(pid, 1, v),
      (e) => this.#sendSettle(pid, 0, e),
    )
    return pid
  }

  #sendSettle(pid: Id, ok: 0 | 1, value: unknown): void {
    if (this.#p.closed()) return
    let wire: unknown
    try {
      wire = ok ? this.encodeValue(value, false) : this.encodeError(value)
    } catch (err) {
      // a value that cannot cross (a symbol, a full export table): the promise rejects over there
      ok = 0
      wire = this.encodeError(err)
    }
    // [SETTLE, pid, ok, value]
    this.#p.outbox.push(Soon.Op, SETTLE, pid, ok, wire)
  }

  #importObject(id: Id): unknown {
    if (!Number.isInteger(id) || id <= 0) throw new WireFault('bad reference id')
    if (this.#discarding) {
      this.#p.outbox.release(id, 1)
      return undefined
    }
    const live = this.#p.imports.take(id)
    if (live !== undefined) return live
    this.#checkHeld()
    const tracker: Tracker = { id, count: 1 }
    const proxy = this.#p.makeImport(id, tracker)
    this.#p.imports.add(id, proxy, tracker)
    return proxy
  }

  #importPromise(id: Id): Promise<unknown> {
    if (!Number.isInteger(id) || id <= 0 || this.#peerPromises.has(id)) throw new WireFault('bad promise id')
    this.#checkHeld()
    let d!: Deferred
    const p = new Promise((resolve, reject) => (d = { resolve, reject }))
    // a peer must not be able to crash this process with a rejection nobody here awaits
    p.catch(noop)
    this.#peerPromises.set(id, d)
    return p
  }

  // A marker costs the peer a few bytes and this side a proxy or a promise: they count against
  // the same limit as what this side exports (a million promise markers were 364 MB of heap)
  #checkHeld(): void {
    const held = this.#peerPromises.size + this.#p.imports.size
    if (held >= this.#p.maxHeld) throw new ProtocolError(`too many of the peer's objects and promises held on this connection (limits.maxExports is ${this.#p.maxHeld})`)
  }

  #local(id: Id): unknown {
    if (id === 0) return this.rootOrThrow()
    const entry = typeof id === 'number' && id > 0 ? this.#p.exports.get(id) : undefined
    if (entry === undefined) throw new ReferenceError('unknown or released reference')
    return entry.value
  }

  #result(id: Id): { value: unknown } | Promise<unknown> {
    const entry = typeof id === 'number' && id < 0 ? this.#p.exports.get(id) : undefined
    if (entry === undefined) throw new ReferenceError('unknown or released result')
    if (entry.state === 1) return { value: entry.value }
    if (entry.state === 2) throw entry.value
    return entry.promise!
  }

  /** This side's root, or AccessError if it serves none. */
  rootOrThrow(): object {
    if (this.#p.root === undefined) throw new AccessError('this side serves no root object')
    return this.#p.root
  }
}
