// Transport over shared memory between two threads: batches go through two rings in one
// SharedArrayBuffer (shared-memory-ring.ts); the port beside it (a Worker, parentPort, any Node
// MessagePort, wrapped in its own transport) carries what the rings cannot, and says when the peer
// is gone. After each send the thread spins briefly for the answer, then parks without blocking.
import { ProtocolError, unknownOption, type CloseInfo } from '../errors.ts'
import type { Transport, TransportLimits, TransportSink, Transferable } from './transport.ts'
import { Inbox } from './inbox.ts'
import { DEFAULT_RING_BYTES, Next, Ring, checkRingBytes } from './shared-memory-ring.ts'
import { Encoder, Decoder, type Format } from './shared-memory-codec.ts'

// How long a thread polls its incoming ring after a send before it parks, in two parts, each
// with a budget in µs. First until the peer has read what was sent: a parked peer wakes up first
// (about 20–80 µs here), and spinning through its wake-up saves this thread one of its own. Then,
// from that read, for the answer. An answer caught within its budget resets both to the cap. A
// peer that read but did not answer in time (it is computing) halves the answer budget, down to
// the floor; at the floor the first part gets the floor too, so a slow peer costs little spinning.
// A peer that did not even read in time halves the first part's budget only from its UNREAD_RUN-th
// such miss in a row (its thread is busy, or the machine's cores are all taken). A few say
// nothing (a garbage collection, a turn of its event loop), and lowering the budget on them makes
// both threads park after most calls and wake each other from then on (with a threshold of 2 the
// bench's interleaved slots took 20 µs a call instead of 6). Polling helps only while the two
// threads run on different cores: the OS tends to put two threads that wake each other in turn on
// one core and keeps them there while they never run at once; calls then cost about what they
// cost over postMessage, until it moves one. Every PROBE_EVERY-th spin uses the caps, so budgets
// at the floor find their way back up.
export const SPIN_FLOOR_US = 8
export const SPIN_CAP_US = 100
export const PROBE_EVERY = 32
export const UNREAD_RUN = 8
/** Continuous spinning and delivering per turn of the event loop before yielding (setImmediate). */
export const TURN_MS = 1

/**
 * Runs `f` on a microtask: a resolved promise's then, which costs a third of what queueMicrotask
 * does in Node (that makes an AsyncResource per call); this transport queues a few per round trip.
 */
const resolved = Promise.resolve()
const later = (f: () => void): void => void resolved.then(f)

/** A record that waits for room in the ring (backpressure), or PORTED: its batch went by the port. */
type Pending = { format: Format; body: Uint8Array } | typeof PORTED
const PORTED = 0

/** The first message on the port, from the side that made the rings: `{ farside, version, buffer }`. */
export function setupMessage(sab: SharedArrayBuffer): unknown {
  return { farside: 'shared-memory', version: 1, buffer: sab }
}

/** The rings a setup message carries, or undefined if `message` is not one. */
export function setupBuffer(message: unknown): SharedArrayBuffer | undefined {
  if (message === null || typeof message !== 'object') return undefined
  const m = message as { farside?: unknown; version?: unknown; buffer?: unknown }
  return m.farside === 'shared-memory' && m.version === 1 && m.buffer instanceof SharedArrayBuffer ? m.buffer : undefined
}

/** `sharedMemory` as worker() and connectPort() take it: true for the defaults, or the ring size. */
export interface SharedMemoryOptions {
  /** Bytes in each of the two rings: a power of two from 4 KiB to 1 GiB. Default 1 MiB. */
  ringBytes?: number
}

/**
 * The ring size `option` asks for (undefined: no shared memory). Throws TypeError for anything but
 * a boolean or `{ ringBytes }` with a usable size (checkRingBytes).
 */
export function ringBytesFor(option: unknown): number | undefined {
  if (option === undefined || option === false) return undefined
  if (option === true) return DEFAULT_RING_BYTES
  if (option === null || typeof option !== 'object') throw new TypeError('options.sharedMemory must be a boolean or { ringBytes }')
  for (const k of Object.keys(option)) if (k !== 'ringBytes') throw unknownOption('shared-memory option', k, ['ringBytes'], 'sharedMemory.')
  const { ringBytes = DEFAULT_RING_BYTES } = option as SharedMemoryOptions
  checkRingBytes(ringBytes)
  return ringBytes
}

export class SharedMemoryTransport implements Transport {
  bytesIn = 0
  bytesOut = 0
  /** Batches too large for the ring, and those with a transfer list, go by the port. */
  readonly wholeBuffers = true
  #port: Transport
  #out: Ring
  #in: Ring
  #encoder: Encoder
  #decoder: Decoder
  #inbox = new Inbox()
  /** Batches that came by the port, each waiting for its PORTED record. */
  #ported: unknown[] = []
  /** Reading stopped at a PORTED record whose batch has not come yet. */
  #needPorted = false
  #pending: Pending[] = []
  #pendingBytes = 0
  #waitingRoom = false
  /** A waitAsync on the incoming ring is pending. */
  #parked = false
  #spinQueued = false
  /** The two budgets (see SPIN_CAP_US): until the peer reads, and then for its answer. */
  #readBudget = SPIN_CAP_US
  #answerBudget = SPIN_CAP_US
  /** Spins in a row whose peer did not read in time. */
  #unread = 0
  #spins = 0
  /** When the spin under way began (it may span turns), or 0; its two deadlines' budgets. */
  #spunSince = 0
  #readFor = 0
  #answerFor = 0
  /** When the peer was seen to have read what this spin waits on, or 0. */
  #readAt = 0
  /** performance.now() when this turn of the event loop began spinning, or 0. */
  #turnStart = 0
  #started = false
  #closed = false
  /** The peer wrote something unreadable: nothing more is read. */
  #broken = false
  #closing: Promise<void> | undefined
  #readLimit = Infinity
  #outgoingLimit = Infinity
  #spinBound = () => this.#spin()
  #wokeBound = () => this.#woke()
  #roomBound = () => this.#room()
  #newTurn = () => (this.#turnStart = 0)

  /**
   * @param port the transport of the port beside the rings (it owns the Worker or the port: its
   *   close stops them, its close event closes this transport, after what the rings still hold)
   * @param sab a buffer made by createRings(), shared with the peer
   * @param side 0 for the side that created the buffer (it writes ring 0), 1 for the other.
   *   Throws TypeError if `sab` is not such a buffer.
   */
  constructor(port: Transport, sab: SharedArrayBuffer, side: 0 | 1) {
    this.#port = port
    this.#out = new Ring(sab, side)
    this.#in = new Ring(sab, side === 0 ? 1 : 0)
    this.#encoder = new Encoder(this.#out.maxRecord - 1)
    this.#decoder = new Decoder(this.#in.data, this.#in.view)
    port.start({
      message: (data) => this.#portMessage(data),
      close: (info) => this.#portClosed(info),
      fault: (error) => this.#fault(error),
    })
  }

  /** Starts reading, on a later microtask: the connection sends its hello before it hears the peer's. */
  start(sink: TransportSink): void {
    this.#inbox.start(sink)
    this.#started = true
    later(this.#wokeBound)
  }

  setLimits(limits: TransportLimits): void {
    this.#readLimit = limits.readFrame
    this.#outgoingLimit = limits.outgoing
    this.#port.setLimits?.(limits)
  }

  /**
   * Writes the batch to the ring (or, with a transfer list or when larger than half the ring, posts
   * it on the port and writes its place in the ring). A full ring queues it here until the peer
   * reads (backpressure); nothing is dropped or overwritten. Throws, before anything was written,
   * what structured clone throws for the value.
   */
  send(data: unknown, transfer?: readonly Transferable[]): void {
    if (this.#closed) return
    const record = transfer !== undefined && transfer.length > 0 ? undefined : this.#encoder.encode(data)
    if (record === undefined) {
      // posted first: it waits on the other side for its PORTED record, which keeps the order
      this.#port.send(data, transfer)
      this.#queue(PORTED)
    } else {
      this.bytesOut += record.length
      if (this.#pending.length > 0 || !this.#out.write(record.format, record.body, record.length)) {
        // the encoder's buffer is reused: keep a copy
        this.#queue({ format: record.format, body: Buffer.from(record.body.subarray(0, record.length)) })
      }
    }
    if (!this.#spinQueued) {
      this.#spinQueued = true
      // after this tick's other work, so a batch's answer is awaited once everything left
      later(this.#spinBound)
    }
  }

  /** Closes the port's transport (stopping the worker where it owns one). Idempotent. */
  /** What keeps the process alive is the port (a parked Atomics.waitAsync does not: nodejs/node#44729). */
  ref(on: boolean): void {
    this.#port.ref?.(on)
  }

  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#stop()
    this.#closing = Promise.resolve(this.#port.close(info)).then(() => {})
    this.#inbox.close(info)
    return this.#closing
  }

  #stop(): void {
    this.#closed = true
    this.#pending = []
    this.#ported = []
    // settles this thread's pending waits (they then see #closed)
    this.#in.wake()
    this.#out.wake()
  }

  #queue(p: Pending): void {
    if (p === PORTED && this.#pending.length === 0 && this.#out.writePorted()) return
    this.#pending.push(p)
    if (p !== PORTED) this.#pendingBytes += p.body.length
    if (this.#pendingBytes > this.#outgoingLimit) {
      void this.close({ reason: 'error', error: new ProtocolError(`the peer is not reading: ${this.#pendingBytes} bytes wait for room in the shared-memory ring (limits.maxOutgoingBytes is ${this.#outgoingLimit})`) })
      return
    }
    // one wait for room at a time: it moves everything queued by then
    if (!this.#waitingRoom) this.#room()
  }

  /** Moves queued records into the ring while they fit; else waits for the peer to read. */
  #room(): void {
    this.#waitingRoom = false
    if (this.#closed) return
    const pending = this.#pending
    let i = 0
    for (; i < pending.length; i++) {
      const p = pending[i]!
      if (p === PORTED ? !this.#out.writePorted() : !this.#out.write(p.format, p.body, p.body.length)) break
      if (p !== PORTED) this.#pendingBytes -= p.body.length
    }
    if (i > 0) pending.splice(0, i)
    if (pending.length === 0) return
    const wait = this.#out.room()
    this.#waitingRoom = true
    if (wait === undefined) later(this.#roomBound)
    else void wait.then(this.#roomBound)
  }

  /**
   * Spins for the answer to what was just sent, within the budgets (see SPIN_CAP_US); then parks.
   * A spin the turn's end cuts short goes on in the next turn (setImmediate), unparked and with
   * its deadlines intact.
   */
  #spin(): void {
    this.#spinQueued = false
    if (this.#closed) return
    const t0 = performance.now()
    if (this.#turnStart === 0) {
      this.#turnStart = t0
      setImmediate(this.#newTurn)
    }
    if (this.#drain()) {
      this.#spunSince = 0
      return this.#rest()
    }
    this.#in.unpark()
    if (this.#spunSince === 0) {
      this.#spunSince = t0
      this.#readAt = 0
      const probe = ++this.#spins % PROBE_EVERY === 0
      this.#answerFor = probe ? SPIN_CAP_US : this.#answerBudget
      this.#readFor = probe ? SPIN_CAP_US : this.#answerFor > SPIN_FLOOR_US ? this.#readBudget : SPIN_FLOOR_US
    }
    const turnEnd = this.#turnStart + TURN_MS
    const ring = this.#in
    let now = t0
    for (;;) {
      // a few looks at the ring per look at the clock (performance.now() costs far more)
      if (ring.ready() || ring.ready() || ring.ready() || ring.ready()) break
      if (this.#readAt === 0 && this.#out.drained()) this.#readAt = now
      const until = this.#readAt !== 0 ? this.#readAt + this.#answerFor / 1000 : this.#spunSince + this.#readFor / 1000
      if (now >= until) {
        this.#spunSince = 0
        if (this.#readAt !== 0) {
          this.#unread = 0
          this.#answerBudget = Math.max(SPIN_FLOOR_US, this.#answerBudget / 2)
        } else if (++this.#unread >= UNREAD_RUN) {
          this.#readBudget = Math.max(SPIN_FLOOR_US, this.#readBudget / 2)
        }
        return this.#park()
      }
      if (now >= turnEnd) {
        // a run of calls answered in microtasks only: let timers and I/O have their turn
        this.#spinQueued = true
        setImmediate(this.#spinBound)
        return
      }
      now = performance.now()
    }
    this.#readBudget = this.#answerBudget = SPIN_CAP_US
    this.#unread = 0
    this.#spunSince = 0
    this.#drain()
    this.#rest()
  }

  /** Parks on the incoming ring (one pending waitAsync at most); reads at once if a record came. */
  #park(): void {
    // waiting for a ported batch: its arrival resumes reading (the ring is not read past its place)
    if (this.#closed || this.#broken || this.#needPorted) return
    if (!this.#in.arm()) {
      later(this.#wokeBound)
      return
    }
    if (this.#parked) return
    const wait = this.#in.wait()
    if (wait === undefined) {
      this.#in.unpark()
      later(this.#wokeBound)
      return
    }
    this.#parked = true
    void wait.then(() => {
      this.#parked = false
      this.#woke()
    })
  }

  #woke(): void {
    if (this.#closed) return
    this.#drain()
    this.#rest()
  }

  /**
   * After reading: park again, unless what was read sent something (that send's spin parks when
   * it is done). Every path that reads ends here, so the producer is never left unnotified.
   */
  #rest(): void {
    if (!this.#spinQueued) this.#park()
  }

  /** Delivers every record there is, in order with the port's batches; whether it delivered any. */
  #drain(): boolean {
    let any = false
    const ring = this.#in
    while (!this.#closed && !this.#broken && this.#started) {
      if (this.#needPorted) {
        if (this.#ported.length === 0) break
        this.#needPorted = false
        any = true
        this.#inbox.deliver(this.#ported.shift())
        continue
      }
      let value: unknown
      try {
        const next = ring.read()
        if (next === Next.Empty) break
        if (next === Next.Ported) {
          this.#needPorted = true
          continue
        }
        const size = ring.end - ring.start
        if (size > this.#readLimit) throw new ProtocolError(`a ${size}-byte batch is over the limit of ${this.#readLimit} (limits.maxFrameBytes)`)
        value = this.#decoder.decode(ring.start, ring.end)
        this.bytesIn += size
      } catch (err) {
        this.#fault(err instanceof ProtocolError ? err : new ProtocolError('a malformed record in the shared-memory ring', { cause: err }))
        break
      }
      ring.done()
      any = true
      this.#inbox.deliver(value)
    }
    return any
  }

  #portMessage(data: unknown): void {
    if (this.#closed || this.#broken) return
    this.#ported.push(data)
    if (!this.#needPorted) return
    this.#drain()
    this.#rest()
  }

  /** The peer is gone: deliver what it wrote before it went, then close. */
  #portClosed(info: CloseInfo): void {
    // before start() the inbox keeps the close for then; the records are of no use any more
    if (!this.#closed) this.#drain()
    if (!this.#closed) this.#stop()
    this.#inbox.close(info)
  }

  #fault(error: Error): void {
    if (this.#closed) return
    // nothing more is read from a peer that wrote garbage
    this.#broken = true
    if (!this.#inbox.fault(error)) void this.close({ reason: 'error', error })
  }
}
