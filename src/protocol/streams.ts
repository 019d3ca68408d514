// The streams crossing one connection: the table of Ends (stream-state.ts), the credit each way,
// the receivers of the stream messages, the share of a flush stream data may take, and the
// binding of a stream to the call it crossed with. stream-ends.ts joins Ends to Node and web
// streams; codec/streams.ts says which values are streams.
// About 470 lines: the five stream receivers and the credit rules they share are one state
// machine, easier to check for a hostile peer in one place than split across files.
import { AbortError } from '../errors.ts'
import { TAG, type Marker } from '../codec/codec.ts'
import { isStreamKind, readsFrom, streamKind, writesTo } from '../codec/streams.ts'
import { WireFault } from './fault.ts'
import { SABORT, SDATA, SDONE, SEND, SMORE, type Id } from './messages.ts'
import { Soon, type Outbox } from './outbox.ts'
import type { Receiver } from './receive.ts'
import { CallWatch } from './stream-calls.ts'
import { attachLocal, makeFar } from './stream-ends.ts'
import { End, MAX_WINDOW, OBJECT_COST, checkOptions, costOf } from './stream-state.ts'


/** Largest piece a byte chunk leaves in (bigger ones are split; object chunks never are). */
const PIECE = 128 * 1024
/**
 * Most stream data one batch carries: a batch is read on the far side while the next is made here
 * (a MessagePort starts to deliver one message as soon as it is posted; a socket's reader decodes
 * a frame as soon as it is in), and credit comes back a batch sooner.
 */
const BATCH_SHARE = 128 * 1024
/** Largest credit one SMORE may give, and most a sender may hold. */
const MAX_CREDIT = 2 ** 30
/** The credit window a stream starts with, before it grows (see want()). */
const START_WINDOW = 64 * 1024
/**
 * The most a stream read here keeps on its way while calls cross this connection (either way):
 * a call's answer, or the peer's next call, waits behind what is already on its way, so bulk
 * data yields to calls. In force while calls cross (stream-calls.ts).
 */
const CALL_WINDOW = 32 * 1024
/** The end of an outgoing flow, queued after its data. */
const END = Symbol('end')

/** What the stream table needs from the rest of the connection. */
export interface StreamParts {
  outbox: Outbox
  /** Encodes an object-mode chunk (throws what cannot cross); decodes one. */
  encode(value: unknown): unknown
  decode(wire: unknown): unknown
  encodeError(err: unknown): unknown
  /** limits.maxStreams and limits.streamWindow. */
  max: number
  window: number
  /** Transport.wholeBuffers: a part of a larger buffer is sent as a copy of its own, moved. */
  wholeBuffers: boolean
  closed(): boolean
  /** A count that moves with every call made or served on the connection. */
  calls(): number
}

export class Streams {
  /** Ends by key: > 0 this side's streams, < 0 the peer's (its id negated). */
  #ends = new Map<number, End>()
  #next = 1
  #peerMax = 0
  #ours = 0
  #theirs = 0
  /** Ends with data queued, served in turn by fill(). */
  #sending: End[] = []
  #turn = 0
  /** Whether calls cross lately; wakes producers a turn late meanwhile. */
  #watch: CallWatch
  /** Streams that arrived with a call served here, by its result id, until it settles. */
  #calls = new Map<Id, Set<End>>()
  #p: StreamParts
  /** Set around encoding or decoding a call's values: what aborts the streams made meanwhile. */
  binding: AbortSignal | Id | undefined

  constructor(parts: StreamParts) {
    this.#p = parts
    this.#watch = new CallWatch(parts.calls)
  }

  /** Streams open on this connection (this side's and the peer's). */
  get size(): number {
    return this.#ends.size
  }

  /** Exports a stream of this side's (the encoder met one); returns its marker. */
  export(value: object): Marker {
    const found = streamKind(value)!
    if (this.#ours >= this.#p.max) throw new TypeError(`too many streams crossing this connection at once (limits.maxStreams is ${this.#p.max})`)
    const { kind, options } = found
    const end = new End(this.#next++, kind, readsFrom(kind), writesTo(kind))
    end.outObject = kind === 'R' || options.ro === true
    end.inObject = kind === 'W' || options.wo === true
    const marker: Record<string, unknown> = { [TAG]: 's', i: end.key, k: kind, o: options }
    if (end.inOpen) {
      // the writer's first credit travels with the stream: no round trip before the first write
      this.#setWindow(end, options.wh)
      end.granted = marker.c = end.window
    }
    this.#add(end)
    attachLocal(this, end, value)
    return marker as Marker
  }

  /** The far copy of the peer's stream a marker names (or, discarding, none: it is cancelled). */
  import(m: Marker, discarding: boolean): unknown {
    const { i, k, o, c } = m as unknown as { i: unknown; k: unknown; o: unknown; c: unknown }
    if (typeof i !== 'number' || !Number.isInteger(i) || i <= 0 || i > 2 ** 53 || this.#ends.has(-i) || !isStreamKind(k)) throw new WireFault('bad stream marker')
    const options = checkOptions(o)
    const sends = writesTo(k)
    if (sends && (typeof c !== 'number' || !Number.isInteger(c) || c <= 0 || c > MAX_CREDIT)) throw new WireFault('bad stream marker: a writable needs its first credit')
    if (i > this.#peerMax) this.#peerMax = i
    if (discarding) {
      // [SABORT, sid, null]: nobody here will read or write it
      this.#p.outbox.push(Soon.Reply, SABORT, -i, null)
      return undefined
    }
    if (this.#theirs >= this.#p.max) throw new WireFault(`too many of the peer's streams on this connection (limits.maxStreams is ${this.#p.max})`)
    const end = new End(-i, k, sends, readsFrom(k))
    end.outObject = k === 'W' || options.wo === true
    end.inObject = k === 'R' || options.ro === true
    if (sends) end.credit = c as number
    if (end.inOpen) this.#setWindow(end, options.rh)
    this.#add(end)
    return makeFar(this, end, options)
  }

  /** Forgets a stream whose marker was never sent (its message failed). */
  drop(m: Marker): void {
    const end = this.#ends.get(m.i!)
    if (end !== undefined) this.#remove(end, true)
  }

  /** A chunk as it goes on the wire (object mode: encoded). Throws what cannot cross. */
  wire(end: End, chunk: unknown): unknown {
    if (end.outObject) return this.#p.encode(chunk)
    if (typeof chunk !== 'string' && !ArrayBuffer.isView(chunk)) throw new TypeError('a stream not in object mode carries bytes or strings only')
    return chunk
  }

  /**
   * Sends a wire chunk on the End's outgoing flow as far as its credit goes; the rest waits for
   * credit. Returns whether the producer may offer more now (credit left, nothing waiting).
   */
  offer(end: End, chunk: unknown): boolean {
    if (!end.outOpen || end.closed) return false
    if (end.held.length > 0) end.held.push(chunk)
    else this.#take(end, chunk)
    return end.held.length === 0 && end.credit > 0
  }

  /** The producer is done: its end follows the data already offered. */
  endOut(end: End): void {
    if (!end.outOpen || end.closed) return
    end.outOpen = false
    if (end.held.length > 0) end.endAfterHeld = true
    else this.#queue(end, END)
  }

  /**
   * The consumer may take more: grant the window's free part, if it is worth a message (half the
   * window) or nothing is on its way. `buffered`: what the local stream holds and has not taken;
   * `starving`: the reader asked and nothing was there for it.
   */
  want(end: End, buffered = 0, starving = buffered === 0): void {
    if (end.gone || !end.inOpen) return
    const outstanding = end.granted - end.received
    let window = end.window
    if (this.#watch.calling()) window = Math.min(window, CALL_WINDOW)
    // the reader waits while less than half a window is on its way: the window is short of the
    // bandwidth-delay product, so it doubles, up to its most. A window no larger than needed
    // keeps little data queued ahead of other traffic.
    else if (starving && end.granted > 0 && 2 * outstanding <= window && window < end.maxWindow) window = end.window = Math.min(window * 2, end.maxWindow)
    const free = window - outstanding - buffered
    if (free <= 0 || (free < window / 2 && outstanding > 0)) return
    end.granted += free
    // [SMORE, sid, credit]
    this.#p.outbox.push(Soon.Reply, SMORE, end.key, free)
  }

  /** The owner's writable finished after the writer's end: tell the writer. */
  sinkDone(end: End): void {
    if (end.gone || end.inOpen) return
    // [SDONE, sid]
    this.#p.outbox.push(Soon.Reply, SDONE, end.key)
    this.#flowOver(end)
  }

  /**
   * The local stream stopped (destroyed, errored, cancelled): the End leaves and the peer is told,
   * with the error (undefined: a cancel). Idempotent.
   */
  stop(end: End, err: unknown): void {
    if (end.gone) return
    this.#remove(end, true)
    // [SABORT, sid, error | null]
    if (!this.#p.closed()) this.#p.outbox.push(Soon.Reply, SABORT, end.key, err === undefined || err === null ? null : this.#p.encodeError(err))
  }

  /** Stops the stream here and tells the peer (a signal, a cancelled call). */
  cancel(end: End, err: unknown): void {
    if (end.gone) return
    this.stop(end, err)
    end.aborted(err)
  }

  /** The served call `rid` was cancelled: so are the streams that came with it. */
  cancelCall(rid: Id): void {
    const ends = this.#calls.get(rid)
    if (ends === undefined) return
    this.#calls.delete(rid)
    for (const end of ends) this.cancel(end, new AbortError('the caller cancelled the call this stream came with'))
  }

  /** The served call `rid` settled: its streams live on by themselves. */
  callDone(rid: Id): void {
    if (this.#calls.size === 0) return
    const ends = this.#calls.get(rid)
    if (ends === undefined) return
    this.#calls.delete(rid)
    for (const end of ends) end.call = undefined
  }

  /** A stream message of ours could not be sent (a chunk too large or not serializable): that stream fails. */
  sendFailed(message: unknown[], error: unknown): void {
    const end = this.#ends.get(message[1] as number)
    if (end !== undefined) this.cancel(end, error)
  }

  /** Fails every stream (the connection closed). */
  abort(err: unknown): void {
    const ends = [...this.#ends.values()]
    for (const end of ends) this.#remove(end, true)
    this.#sending = []
    for (const end of ends) end.aborted(err)
  }

  /**
   * Appends queued stream data to a batch, each stream in turn, up to BATCH_SHARE bytes. Returns
   * whether more waits (the outbox then fills another batch, or flushes again on a later turn).
   */
  fill(q: unknown[]): boolean {
    if (this.#ends.size > 0) this.#watch.look()
    const list = this.#sending
    let budget = BATCH_SHARE
    while (list.length > 0 && budget > 0) {
      if (this.#turn >= list.length) this.#turn = 0
      const end = list[this.#turn]!
      let took = 0
      while (end.outHead < end.out.length && took < PIECE && took < budget) {
        const c = end.out[end.outHead++]
        // [SEND, sid] | [SDATA, sid, chunk]
        if (c === END) q.push(SEND, end.key)
        else {
          q.push(SDATA, end.key, c)
          took += costOf(c)
          if (c instanceof Uint8Array && copies.has(c.buffer)) this.#p.outbox.transfer([c.buffer as ArrayBuffer])
        }
      }
      budget -= took
      if (end.outHead >= end.out.length || end.closed) {
        end.out = []
        end.outHead = 0
        list.splice(this.#turn, 1)
      } else this.#turn++
    }
    return list.length > 0
  }

  /** Puts the stream messages' receivers in the connection's table. */
  receivers(t: Receiver[]): void {
    // [SDATA, sid, chunk]
    t[SDATA] = (d, i) => this.#data(this.#find(d[i + 1]), d[i + 2])
    // [SMORE, sid, credit]
    t[SMORE] = (d, i) => this.#more(this.#find(d[i + 1]), d[i + 2])
    // [SEND, sid]
    t[SEND] = (d, i) => {
      const end = this.#find(d[i + 1])
      if (end === undefined) return
      if (!end.inOpen) throw new WireFault('a stream ended twice, or one this side does not read')
      end.inOpen = false
      end.ended()
      // a far copy's reading is over at its end; an owner's writable, once it has finished (sinkDone)
      if (end.key < 0) this.#flowOver(end)
    }
    // [SDONE, sid]
    t[SDONE] = (d, i) => {
      const end = this.#find(d[i + 1])
      if (end === undefined) return
      if (end.key > 0 || end.outOpen || !writesTo(end.kind)) throw new WireFault('a stream done that this side did not end')
      end.done()
      this.#flowOver(end)
    }
    // [SABORT, sid, error | null]
    t[SABORT] = (d, i) => {
      const end = this.#find(d[i + 1])
      if (end === undefined) return
      this.#remove(end, true)
      let err: unknown
      try {
        err = d[i + 2] === null ? undefined : this.#p.decode(d[i + 2])
      } catch (e) {
        if (e instanceof WireFault) throw e
        err = e
      }
      end.aborted(err)
    }
  }

  #data(end: End | undefined, chunk: unknown): void {
    if (end === undefined) return
    if (!end.inOpen) throw new WireFault('stream data after its end, or on a stream this side does not read')
    if (!end.inObject && typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) throw new WireFault('a byte stream carries bytes or strings only')
    const cost = costOf(chunk)
    const left = end.granted - end.received
    // an object chunk may use up what credit is left; bytes are split to fit it
    if (left <= 0 || (!end.inObject && cost > left)) throw new WireFault('stream data beyond the credit given')
    end.received += Math.min(cost, left)
    let value = chunk
    if (end.inObject) {
      try {
        value = this.#p.decode(chunk)
      } catch (err) {
        if (err instanceof WireFault) throw err
        return this.cancel(end, err)
      }
    }
    end.data(value, cost)
  }

  #more(end: End | undefined, n: unknown): void {
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > MAX_CREDIT) throw new WireFault('stream credit must be a whole number from 1 to 2^30')
    if (end === undefined) return
    const sends = end.key > 0 ? readsFrom(end.kind) : writesTo(end.kind)
    if (!sends) throw new WireFault('credit for a stream this side does not send')
    if (end.credit + n > MAX_CREDIT) throw new WireFault('more stream credit than a peer may give')
    end.credit += n
    if (!end.outOpen && !end.endAfterHeld) return
    const held = end.held
    end.held = []
    for (const chunk of held) {
      if (end.held.length > 0) end.held.push(chunk)
      else this.#take(end, chunk)
    }
    if (end.held.length > 0) return
    if (end.endAfterHeld) {
      end.endAfterHeld = false
      this.#queue(end, END)
    } else if (end.credit > 0 && end.ready !== undefined) {
      // while calls cross, a turn late: a call that came with the credit is answered first
      if (this.#watch.calling()) this.#watch.wakeSoon(end)
      else end.ready()
    }
  }

  // Takes as much of a chunk as the credit allows into the flow's queue; holds the rest.
  #take(end: End, chunk: unknown): void {
    if (end.outObject) {
      if (end.credit <= 0) return void end.held.push(chunk)
      end.credit = Math.max(0, end.credit - costOf(chunk))
      return this.#queue(end, chunk)
    }
    let rest = chunk as string | Uint8Array
    while (rest.length > 0) {
      let n = Math.min(end.credit, PIECE, rest.length)
      // a string is not cut inside a surrogate pair
      if (typeof rest === 'string' && n < rest.length && n > 0 && (rest.charCodeAt(n - 1) & 0xfc00) === 0xd800) n--
      if (n <= 0) return void end.held.push(rest)
      let piece: string | Uint8Array
      if (typeof rest === 'string') {
        piece = n === rest.length ? rest : rest.slice(0, n)
        rest = n === rest.length ? '' : rest.slice(n)
      } else {
        piece = n === rest.length ? rest : rest.subarray(0, n)
        if (this.#p.wholeBuffers) piece = ownBytes(piece)
        rest = rest.subarray(n)
      }
      end.credit -= n
      this.#queue(end, piece)
    }
  }

  #queue(end: End, item: unknown): void {
    if (end.outHead === end.out.length) {
      end.out.length = 0
      end.outHead = 0
      this.#sending.push(end)
    }
    end.out.push(item)
    // the owner's readable is over once its end is queued; a far writable's when SDONE comes
    if (item === END && end.key > 0) this.#flowOver(end)
    this.#p.outbox.schedule(Soon.Reply)
  }

  /** The End a wire id names; undefined for one that was open once (late messages are dropped). */
  #find(wireId: unknown): End | undefined {
    if (typeof wireId !== 'number' || !Number.isInteger(wireId) || wireId === 0) throw new WireFault('bad stream id')
    const key = -wireId
    if (key > 0 ? key >= this.#next : -key > this.#peerMax) throw new WireFault('unknown stream id')
    return this.#ends.get(key)
  }

  // The window starts small (START_WINDOW, or twice the stream's highWaterMark) and grows when
  // the reader runs dry, up to limits.streamWindow (or that highWaterMark's need, if larger).
  #setWindow(end: End, hwm: number | undefined): void {
    const asked = Math.min(2 * (hwm ?? 0) * (end.inObject ? OBJECT_COST : 1), MAX_WINDOW)
    end.maxWindow = Math.max(this.#p.window, asked)
    end.window = Math.min(end.maxWindow, Math.max(START_WINDOW, asked))
  }

  #add(end: End): void {
    this.#ends.set(end.key, end)
    if (end.key > 0) this.#ours++
    else this.#theirs++
    const b = this.binding
    if (typeof b === 'number') {
      let set = this.#calls.get(b)
      if (set === undefined) this.#calls.set(b, (set = new Set()))
      set.add(end)
      end.call = b
    } else if (b !== undefined) {
      const onAbort = () => this.cancel(end, new AbortError('the stream was aborted', { cause: b.reason }))
      b.addEventListener('abort', onAbort, { once: true })
      end.unbind = () => b.removeEventListener('abort', onAbort)
    }
  }

  // One flow of the End is over; after both, it leaves the table (its queued end still leaves).
  #flowOver(end: End): void {
    if (--end.flows <= 0) this.#remove(end, false)
  }

  // `clear`: the stream stopped, so what it queued is dropped; else it finished and drains.
  #remove(end: End, clear: boolean): void {
    if (clear && !end.closed) {
      end.closed = true
      end.out = []
      end.outHead = 0
      end.held = []
    }
    if (end.gone) return
    end.gone = true
    this.#ends.delete(end.key)
    if (end.key > 0) this.#ours--
    else this.#theirs--
    end.unbind?.()
    end.unbind = undefined
    if (end.call !== undefined) this.#calls.get(end.call)?.delete(end)
  }
}

/**
 * A part of a larger buffer, as a copy of its own, for a transport that clones a view's whole
 * ArrayBuffer (a MessagePort: each 128 KiB piece of a 16 MiB chunk crossed a worker as 16 MiB, 0.6 s
 * for the chunk, and the reader held a copy of the whole buffer per piece it had not read). The
 * copy is moved, not cloned (fill() puts it in the transfer list): over a worker the half of a
 * 64 KiB chunk that a 32 KiB credit takes went as a 64 KiB clone, made on one side and allocated
 * and copied again on the other. Views under 4 KiB (Node's pooled Buffers, cloned once per batch
 * for all of them) and views of a whole buffer go as they are.
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength < 4096 || bytes.byteLength === bytes.buffer.byteLength) return bytes
  // Buffer's own slice() is a view: %TypedArray%'s copies
  const copy = Uint8Array.prototype.slice.call(bytes)
  copies.add(copy.buffer)
  return copy
}

/** The buffers of the copies ownBytes made: nobody else holds them, so they are moved. */
const copies = new WeakSet<ArrayBufferLike>()
