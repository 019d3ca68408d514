// The one place that decides how a value crosses: by value (structured-clone data, rewritten only
// where it holds something that must not be copied) or by reference (a table id). Connection-
// agnostic: it talks to the connection through the small EncodeHost / DecodeHost interfaces.
// Just over 400 lines: the encoder and decoder are the two halves of one marker table, kept side
// by side so that a kind added to one is seen next to the other.
import { isCopyMarked, isRefMarked, takeTransfer } from './marks.ts'
import { decodeError, encodeError } from './errors.ts'
import { noteThen } from './thenables.ts'
import { isStream } from './streams.ts'

export { WIRE_THENABLE, isWireThenable } from './thenables.ts'
import { MessagePort } from 'node:worker_threads'
import type { Transferable } from '../types.ts'

/** The key that tags a marker object on the wire. User objects that own it are escaped. */
export const TAG = '\u0000'

// Markers, each a small plain object tagged under TAG:
// {TAG:"v", v}      a value that holds markers below; the receiver walks it (else it does not)
// {TAG:"r", i}      a reference to the sender's export i
// {TAG:"b", i}      a reference back to the receiver's own export i (identity round trip)
// {TAG:"h", i}      the receiver's result i (a pipelined, maybe unsettled, result)
// {TAG:"p", i}      a promise of the sender's that will settle with ["settle", i, ...]
// {TAG:"e", ...}    an error (see errors.ts)
// {TAG:"o", v}      an escaped plain object that owns the TAG key itself
// {TAG:"s", i, k, o, c?} a stream of the sender's, its id i, kind k and options (streams.ts)
export type Marker = { [TAG]: string; i?: number; v?: unknown }

export interface EncodeHost {
  /** For a proxy of this connection, its marker; for anything else (local objects, other
   *  connections' proxies, which then cross as forwarding references), undefined. */
  markerOf(value: object): Marker | undefined
  /** Export a local object by reference (one more reference for the peer); returns its id. */
  exportObject(value: object): number
  /** Export a promise; the host sends its settlement later; returns its id. */
  exportPromise(value: PromiseLike<unknown>): number
  /** Export a stream (codec/streams.ts says which values are streams); returns its marker. */
  exportStream(value: object): Marker
}

export interface DecodeHost {
  importObject(id: number): unknown
  importPromise(id: number): Promise<unknown>
  /** This side's own export `id`, or throws. */
  local(id: number): unknown
  /** This side's result `id`: its value, or a promise of it while it is pending. */
  result(id: number): { value: unknown } | Promise<unknown>
  /** The far copy of the sender's stream a {TAG:"s"} marker names. */
  importStream(marker: Marker): unknown
}

export interface EncodeOptions {
  /** Copy mode (obtain): class instances cross as plain data; functions and promises are errors. */
  copy?: boolean
  /** In copy mode, which own keys of an object may cross (the serving side's access policy). */
  visible?: (obj: object, key: string) => boolean
  /** Whether error stacks cross. */
  stacks: boolean
}

/** Whether a value is plain data as it stands (primitives, arrays of primitives): no Encoder needed. */
export function isPlain(value: unknown): boolean {
  if (typeof value !== 'object') return typeof value !== 'function' && typeof value !== 'symbol'
  if (value === null) return true
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) {
    const v = value[i]
    if (typeof v === 'object' ? v !== null : typeof v === 'function' || typeof v === 'symbol') return false
  }
  return true
}

/** Whether a wire value carries markers, so that a Decoder must look at it. */
export function isMarked(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as Marker)[TAG] === 'string'
}

export class Encoder {
  /** Buffers and ports to move with the message being built. */
  transfer: Transferable[] | undefined
  /** Ids exported while encoding: if the message is not sent after all, release them again. */
  exported: number[] | undefined
  /** Stream markers made while encoding: if the message is not sent after all, drop them. */
  streams: Marker[] | undefined
  #host: EncodeHost
  #opts: EncodeOptions
  #memo: Map<object, unknown> | undefined
  constructor(host: EncodeHost, opts: EncodeOptions) {
    this.#host = host
    this.#opts = opts
  }

  /** Encodes one value for the wire. Throws TypeError for what cannot cross (symbols, ...). */
  encode(value: unknown): unknown {
    if (typeof value === 'object') {
      if (value === null) return null
      this.#takeTransfers(value)
      if (!this.#needsRewrite(value, undefined)) return value
      this.#memo = new Map()
      try {
        const out = this.#rewrite(value)
        return out !== null && typeof out === 'object' && (out as Marker)[TAG] !== undefined && !Array.isArray(out) ? out : { [TAG]: 'v', v: out }
      } finally {
        this.#memo = undefined
      }
    }
    if (typeof value === 'function') {
      this.#memo = new Map()
      try { return this.#rewrite(value) } finally { this.#memo = undefined }
    }
    if (typeof value === 'symbol') throw new TypeError(`a symbol cannot cross a connection (${String(value)})`)
    return value
  }

  // transfer() marks count on the value itself and, for an argument list, on each argument.
  #takeTransfers(value: object): void {
    const moved = takeTransfer(value)
    if (moved !== undefined) (this.transfer ??= []).push(...moved)
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v = value[i]
        if (typeof v === 'object' && v !== null) {
          const m = takeTransfer(v)
          if (m !== undefined) (this.transfer ??= []).push(...m)
        }
      }
    }
  }

  // Pass 1: does anything below `value` need rewriting? Plain data says no and is sent untouched.
  #needsRewrite(value: object, seen: Set<object> | undefined): boolean {
    // a copy filters keys: always rewritten
    if (this.#opts.visible !== undefined) return true
    const kind = classify(value, this.#opts.copy === true)
    if (kind === Kind.Leaf) return false
    if (kind !== Kind.Array && kind !== Kind.Plain && kind !== Kind.MapLike && kind !== Kind.SetLike) return true
    if (seen === undefined) seen = new Set()
    else if (seen.has(value)) return false
    seen.add(value)
    if (kind === Kind.Array) {
      const a = value as unknown[]
      for (let i = 0; i < a.length; i++) {
        const v = a[i]
        if (typeof v === 'object' ? v !== null && this.#needsRewrite(v, seen) : typeof v === 'function' || typeof v === 'symbol') return true
      }
      return false
    }
    if (kind === Kind.Plain) {
      if (Object.hasOwn(value, TAG)) return true
      for (const k in value) {
        const v = (value as Record<string, unknown>)[k]
        if (typeof v === 'object' ? v !== null && this.#needsRewrite(v, seen) : typeof v === 'function' || typeof v === 'symbol') return true
      }
      return false
    }
    for (const v of kind === Kind.MapLike ? [...(value as Map<unknown, unknown>).keys(), ...(value as Map<unknown, unknown>).values()] : (value as Set<unknown>)) {
      if (typeof v === 'object' ? v !== null && this.#needsRewrite(v, seen) : typeof v === 'function' || typeof v === 'symbol') return true
    }
    return false
  }

  // Pass 2: a copy with markers in place of what must not be copied. Cycles and sharing survive.
  #rewrite(value: unknown): unknown {
    if (typeof value !== 'object' && typeof value !== 'function') {
      if (typeof value === 'symbol') throw new TypeError(`a symbol cannot cross a connection (${String(value)})`)
      return value
    }
    if (value === null) return null
    const memo = this.#memo!
    const done = memo.get(value)
    if (done !== undefined) return done
    const kind = classify(value, this.#opts.copy === true)
    switch (kind) {
      case Kind.Leaf: return value
      case Kind.Array: {
        const a = value as unknown[]
        const out: unknown[] = new Array(a.length)
        memo.set(value, out)
        for (let i = 0; i < a.length; i++) out[i] = this.#rewrite(a[i])
        return out
      }
      case Kind.Plain: {
        const out: Record<string, unknown> = {}
        memo.set(value, Object.hasOwn(value, TAG) ? { [TAG]: 'o', v: out } : out)
        const visible = this.#opts.visible
        for (const k of Object.keys(value)) {
          if (visible !== undefined && !visible(value, k)) continue
          // defineProperty: an own '__proto__' key stays a key, not a prototype
          if (k === '__proto__') Object.defineProperty(out, k, { value: this.#rewrite((value as Record<string, unknown>)[k]), enumerable: true, writable: true, configurable: true })
          else out[k] = this.#rewrite((value as Record<string, unknown>)[k])
        }
        return memo.get(value)
      }
      case Kind.MapLike: {
        const out = new Map()
        memo.set(value, out)
        for (const [k, v] of value as Map<unknown, unknown>) out.set(this.#rewrite(k), this.#rewrite(v))
        return out
      }
      case Kind.SetLike: {
        const out = new Set()
        memo.set(value, out)
        for (const v of value as Set<unknown>) out.add(this.#rewrite(v))
        return out
      }
      case Kind.Error: {
        // memoised before the cause and properties are encoded: they may lead back to this error
        return encodeError(value as Error, this.#opts.stacks, (v) => this.#rewrite(v), (out) => memo.set(value, out))
      }
      case Kind.Stream: {
        if (this.#opts.copy) throw new TypeError('a stream cannot be copied by value: return the stream itself, it crosses as a stream')
        const out = this.#host.exportStream(value as object)
        ;(this.streams ??= []).push(out)
        memo.set(value, out)
        return out
      }
      case Kind.Promise: {
        if (this.#opts.copy) throw new TypeError('a promise cannot be copied by value')
        const out = { [TAG]: 'p', i: this.#host.exportPromise(value as PromiseLike<unknown>) }
        memo.set(value, out)
        return out
      }
      default: {
        const marker = this.#host.markerOf(value)
        if (marker !== undefined) {
          memo.set(value, marker)
          return marker
        }
        if (this.#opts.copy && typeof value === 'function') throw new TypeError(`a function cannot be copied by value (${(value as { name?: string }).name || 'anonymous'})`)
        const id = this.#host.exportObject(value)
        ;(this.exported ??= []).push(id)
        const out = { [TAG]: 'r', i: id }
        memo.set(value, out)
        return out
      }
    }
  }
}

const enum Kind { Leaf, Array, Plain, MapLike, SetLike, Error, Promise, Stream, Ref }

function classify(value: object, copyMode: boolean): Kind {
  // Proxies are functions or objects of their own class: they classify as Ref, and the rewrite
  // asks the host about every Ref.
  if (typeof value === 'function') return Kind.Ref
  if (!copyMode && isRefMarked(value)) return Kind.Ref
  if (Array.isArray(value)) return Kind.Array
  const proto = Object.getPrototypeOf(value)
  // an object with a `then` function crosses by reference: the peer must never adopt it by value
  if (proto === Object.prototype || proto === null) return !copyMode && typeof (value as { then?: unknown }).then === 'function' ? Kind.Ref : Kind.Plain
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) return Kind.Leaf
  if (proto === Map.prototype) return Kind.MapLike
  if (proto === Set.prototype) return Kind.SetLike
  if (value instanceof Error) return Kind.Error
  if (value instanceof Promise) return Kind.Promise
  if (value instanceof Number || value instanceof String || value instanceof Boolean || value instanceof SharedArrayBuffer) return Kind.Leaf
  if (isTransferableHandle(value)) return Kind.Leaf
  if (isStream(value)) return Kind.Stream
  if (copyMode || isCopyMarked(value)) return Kind.Plain
  return Kind.Ref
}

/** MessagePorts cross as themselves (they must be in the transfer list). */
function isTransferableHandle(value: object): boolean {
  return value instanceof MessagePort
}

export class Decoder {
  /** Results that were still pending when decoded: patch each slot once they settle. */
  pending: [holder: Record<string | number, unknown>, key: string | number, promise: Promise<unknown>][] | undefined
  #host: DecodeHost
  #memo: Map<object, unknown> | undefined
  constructor(host: DecodeHost) {
    this.#host = host
  }

  /**
   * Decodes one wire value into `holder.v`. Plain data comes back as it is; marked data is walked
   * once. If it names pending results, `pending` is set: await `settle()` before reading `holder.v`.
   */
  decodeInto(holder: { v: unknown }, value: unknown): void {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as Marker)[TAG] !== 'string') {
      holder.v = value
      return
    }
    this.#memo = new Map()
    try {
      holder.v = (value as Marker)[TAG] === 'v' ? (value as Marker).v : value
      this.#walk(holder as Record<string, unknown>, 'v')
    } finally {
      this.#memo = undefined
    }
  }

  /** Decodes a value that cannot name pending results (results, settlements, errors). */
  decode(value: unknown): unknown {
    const holder = { v: undefined as unknown }
    this.decodeInto(holder, value)
    if (this.pending !== undefined) throw new TypeError('a pipelined result cannot be sent here')
    return holder.v
  }

  // Replaces markers below holder[key] in place: the decoded message is ours to mutate.
  #walk(holder: Record<string | number, unknown>, key: string | number): void {
    const value = holder[key]
    if (typeof value !== 'object' || value === null) return
    const memo = this.#memo!
    if (memo.has(value)) {
      holder[key] = memo.get(value)
      return
    }
    if (Array.isArray(value)) {
      memo.set(value, value)
      // a sparse array claims any length for a few bytes: past a size, visit only what is there
      if (value.length > 65_536) for (const k of Object.keys(value)) this.#walk(value as unknown as Record<string, unknown>, k)
      else for (let i = 0; i < value.length; i++) if (typeof value[i] === 'object' && value[i] !== null) this.#walk(value as unknown as Record<number, unknown>, i)
      noteThen(value)
      return
    }
    const tag = (value as Marker)[TAG]
    if (typeof tag === 'string') {
      const out = this.#marker(value as Marker, holder, key)
      memo.set(value, out)
      holder[key] = out
      return
    }
    if (value instanceof Map) {
      memo.set(value, value)
      const entries = [...value]
      value.clear()
      for (const entry of entries) {
        this.#walk(entry as unknown as Record<number, unknown>, 0)
        this.#walk(entry as unknown as Record<number, unknown>, 1)
        value.set(entry[0], entry[1])
      }
      return
    }
    if (value instanceof Set) {
      memo.set(value, value)
      const items = [...value]
      value.clear()
      for (let i = 0; i < items.length; i++) {
        this.#walk(items as unknown as Record<number, unknown>, i)
        value.add(items[i])
      }
      return
    }
    if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
      memo.set(value, value)
      for (const k of Object.keys(value)) this.#walk(value as Record<string, unknown>, k)
      noteThen(value)
    }
  }

  #marker(m: Marker, holder: Record<string | number, unknown>, key: string | number): unknown {
    switch (m[TAG]) {
      case 'r': return this.#host.importObject(m.i!)
      case 'b': return this.#host.local(m.i!)
      case 'p': return this.#host.importPromise(m.i!)
      case 's': return this.#host.importStream(m)
      case 'h': {
        const r = this.#host.result(m.i!)
        if (!(r instanceof Promise)) return r.value
        ;(this.pending ??= []).push([holder, key, r])
        return undefined
      }
      case 'e': {
        // memoised before the cause and properties are decoded, so a cycle comes back as one
        const err = decodeError(m as never, (v) => {
          const h = { v }
          this.#walk(h, 'v')
          return h.v
        }, (e) => this.#memo!.set(m, e))
        // an error's own properties come from the peer too: a `then` among them is data
        if (typeof err === 'object' && err !== null) noteThen(err)
        return err
      }
      case 'o': {
        const inner = m.v as Record<string, unknown>
        this.#memo!.set(m, inner)
        for (const k of Object.keys(inner)) this.#walk(inner, k)
        noteThen(inner)
        return inner
      }
      case 'v': {
        const h = { v: m.v }
        this.#walk(h, 'v')
        return h.v
      }
      default:
        throw new TypeError(`unknown value marker ${JSON.stringify(m[TAG].slice(0, 20))}`)
    }
  }

  /** Waits for pipelined results named in the decoded value and puts them in their slots. */
  async settle(): Promise<void> {
    const pending = this.pending
    if (pending === undefined) return
    this.pending = undefined
    const values = await Promise.all(pending.map((p) => p[2]))
    for (let i = 0; i < pending.length; i++) {
      const [holder, key] = pending[i]!
      holder[key] = values[i]
    }
  }
}
