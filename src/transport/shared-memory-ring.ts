// The shared-memory transport's wire: two single-producer / single-consumer rings of records in
// one SharedArrayBuffer (layout in PROTOCOL.md, "Shared-memory rings"). Only Atomics order the two
// threads: a record's bytes are written first, then its end is published with one Atomics.store.

/** The default size of each ring's data area: 1 MiB. */
export const DEFAULT_RING_BYTES = 1 << 20
export const MIN_RING_BYTES = 1 << 12
export const MAX_RING_BYTES = 1 << 30

const MAGIC = 0x4d534631 // 'FSM1'
const VERSION = 1
/** Buffer header: MAGIC, VERSION, ring bytes; then each ring's control block, then the data areas. */
const HEADER_BYTES = 64
/** One control block per ring: two 64-byte lines, one written by each side (no false sharing). */
const CONTROL_BYTES = 128
// control words (Int32 indexes into a control block)
/** Producer's line: the write position (bytes ever written, mod 2^32). */
const W = 0
/** Producer's line: 1 while the producer waits for room (the consumer clears it and notifies R). */
const PRODUCER_WAITING = 1
/** Consumer's line: the read position. */
const R = 16
/** Consumer's line: 1 while the consumer is parked on W (the producer then notifies W). */
const CONSUMER_PARKED = 17

// record headers: an Int32 at a 4-byte aligned offset
/** The rest of the data area is unused: the next record starts at offset 0. */
const WRAP = -1
/** The next batch went by postMessage on the port: take it from there, in this place. */
const PORTED = -2

/** Throws TypeError unless `n` is a usable ring size (a power of two, 4 KiB to 1 GiB). */
export function checkRingBytes(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < MIN_RING_BYTES || n > MAX_RING_BYTES || (n & (n - 1)) !== 0) {
    throw new TypeError(`options.sharedMemory.ringBytes must be a power of two from ${MIN_RING_BYTES} to ${MAX_RING_BYTES} (e.g. ${DEFAULT_RING_BYTES}): positions wrap at 2^32`)
  }
}

/** A buffer holding two rings of `ringBytes` each: ring 0 carries creator -> acceptor, ring 1 back. */
export function createRings(ringBytes = DEFAULT_RING_BYTES): SharedArrayBuffer {
  checkRingBytes(ringBytes)
  const sab = new SharedArrayBuffer(HEADER_BYTES + 2 * CONTROL_BYTES + 2 * ringBytes)
  const head = new Int32Array(sab, 0, 3)
  head[0] = MAGIC
  head[1] = VERSION
  head[2] = ringBytes
  return sab
}

/** The ring size of a buffer made by createRings; throws TypeError for anything else. */
export function ringBytesOf(sab: unknown): number {
  if (!(sab instanceof SharedArrayBuffer) || sab.byteLength < HEADER_BYTES + 2 * CONTROL_BYTES) throw new TypeError('not a farside shared-memory buffer')
  const head = new Int32Array(sab, 0, 3)
  const bytes = head[2]!
  if (head[0] !== MAGIC || head[1] !== VERSION || sab.byteLength !== HEADER_BYTES + 2 * CONTROL_BYTES + 2 * bytes) {
    throw new TypeError(`not a farside shared-memory buffer of version ${VERSION}`)
  }
  return bytes
}

const align = (n: number) => (n + 3) & ~3

/** Atomics.waitAsync (Node 16+; typed from lib es2024, which this project's target predates). */
const waitAsync = (Atomics as unknown as {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> }
}).waitAsync

/** What read() found. */
export const enum Next {
  Empty,
  Data,
  Ported,
}

/** One direction: this side is either its producer or its consumer, never both. */
export class Ring {
  readonly capacity: number
  /** Largest record body (format byte included): half the ring, so it always fits once the ring has drained. */
  readonly maxRecord: number
  readonly ctl: Int32Array
  readonly data: Buffer
  readonly view: DataView
  #heads: Int32Array
  #mask: number
  /** This side's own position (the producer's W or the consumer's R), mirrored in `ctl`. */
  #pos = 0
  /** The producer's last look at R (the one its last failed write was decided on). */
  #seenR = 0
  /** Where the last Data record's body starts and ends (valid until the next read). */
  start = 0
  end = 0

  constructor(sab: SharedArrayBuffer, index: 0 | 1) {
    const bytes = ringBytesOf(sab)
    this.capacity = bytes
    this.maxRecord = bytes / 2 - 4
    this.#mask = bytes - 1
    this.ctl = new Int32Array(sab, HEADER_BYTES + index * CONTROL_BYTES, CONTROL_BYTES / 4)
    const at = HEADER_BYTES + 2 * CONTROL_BYTES + index * bytes
    this.data = Buffer.from(sab, at, bytes)
    this.view = new DataView(sab, at, bytes)
    this.#heads = new Int32Array(sab, at, bytes / 4)
  }

  // ---- producer side ----

  /** Room for a record of `length` body bytes now (false: full, wait for the consumer). */
  #reserve(length: number): number {
    const need = 4 + align(length)
    const r = (this.#seenR = Atomics.load(this.ctl, R))
    const used = (this.#pos - r) >>> 0
    const free = this.capacity - used
    const at = this.#pos & this.#mask
    const tail = this.capacity - at
    if (tail >= need) return free >= need ? at : -1
    // the record does not fit before the end: a WRAP header, then the record at offset 0
    if (free < tail + need) return -1
    this.#heads[at >> 2] = WRAP
    this.#pos = (this.#pos + tail) >>> 0
    return 0
  }

  /**
   * Writes one record, `format` then the first `length` bytes of `body`, and publishes it; false
   * (nothing written) if it does not fit now.
   */
  write(format: number, body: Uint8Array, length: number): boolean {
    // a record over half the ring might never fit: the caller sends such a batch by the port
    if (length + 1 > this.maxRecord) throw new RangeError(`a ${length + 1}-byte record does not fit a ${this.capacity}-byte ring`)
    const at = this.#reserve(length + 1)
    if (at < 0) return false
    this.#heads[at >> 2] = length + 1
    this.data[at + 4] = format
    this.data.set(length === body.length ? body : body.subarray(0, length), at + 5)
    this.#publish(4 + align(length + 1))
    return true
  }

  /** Writes a PORTED record (the batch itself goes by postMessage); false if it does not fit now. */
  writePorted(): boolean {
    const at = this.#reserve(0)
    if (at < 0) return false
    this.#heads[at >> 2] = PORTED
    this.#publish(4)
    return true
  }

  #publish(n: number): void {
    this.#pos = (this.#pos + n) >>> 0
    Atomics.store(this.ctl, W, this.#pos | 0)
    // Dekker with arm(): W is stored before PARKED is read, PARKED before W on the other side
    if (Atomics.load(this.ctl, CONSUMER_PARKED) === 1) Atomics.notify(this.ctl, W)
  }

  /** Whether the consumer has read everything written (one Atomics.load). */
  drained(): boolean {
    return Atomics.load(this.ctl, R) === (this.#pos | 0)
  }

  /**
   * After a failed write: a promise that resolves once the consumer has read since (undefined if
   * it already has: try again now). Does not keep the event loop alive (nodejs/node#44729).
   */
  room(): Promise<unknown> | undefined {
    Atomics.store(this.ctl, PRODUCER_WAITING, 1)
    // wait on the R the failed write saw: a read since then (whose notify may have come before
    // this wait) makes it return at once, so no wake-up is lost
    const w = waitAsync(this.ctl, R, this.#seenR)
    return w.async ? w.value : undefined
  }

  // ---- consumer side ----

  /** Whether a record is waiting (one Atomics.load: the spin loop's test). */
  ready(): boolean {
    return Atomics.load(this.ctl, W) !== (this.#pos | 0)
  }

  /**
   * Reads the next record: Data (its body is data[start, end) until the next read: decode it,
   * then call done()), Ported, or Empty. Throws RangeError for a header no producer writes.
   */
  read(): Next {
    for (;;) {
      const w = Atomics.load(this.ctl, W)
      if (w === (this.#pos | 0)) return Next.Empty
      const at = this.#pos & this.#mask
      const head = this.#heads[at >> 2]!
      if (head === WRAP) {
        this.#pos = (this.#pos + this.capacity - at) >>> 0
        continue
      }
      if (head === PORTED) {
        this.#pos = (this.#pos + 4) >>> 0
        this.done()
        return Next.Ported
      }
      if (head < 0 || head > this.maxRecord || at + 4 + head > this.capacity || ((w - this.#pos) >>> 0) < 4 + align(head)) {
        throw new RangeError(`malformed shared-memory record header ${head} at ${at}`)
      }
      this.start = at + 4
      this.end = at + 4 + head
      this.#pos = (this.#pos + 4 + align(head)) >>> 0
      return Next.Data
    }
  }

  /** Frees what was read (the producer may reuse it) and wakes a producer waiting for room. */
  done(): void {
    Atomics.store(this.ctl, R, this.#pos | 0)
    if (Atomics.load(this.ctl, PRODUCER_WAITING) === 1 && Atomics.compareExchange(this.ctl, PRODUCER_WAITING, 1, 0) === 1) {
      Atomics.notify(this.ctl, R)
    }
  }

  /**
   * Arms the consumer's doorbell: from now on the producer notifies W. Returns false (and disarms)
   * if a record is already there, so the caller reads instead of waiting.
   */
  arm(): boolean {
    Atomics.store(this.ctl, CONSUMER_PARKED, 1)
    if (Atomics.load(this.ctl, W) !== (this.#pos | 0)) {
      Atomics.store(this.ctl, CONSUMER_PARKED, 0)
      return false
    }
    return true
  }

  /**
   * Waits (asynchronously) until W moves from what this side has read; undefined if it already
   * did. Call after arm(). The pending wait does not keep the event loop alive (nodejs/node#44729).
   */
  wait(): Promise<unknown> | undefined {
    const r = waitAsync(this.ctl, W, this.#pos | 0)
    return r.async ? r.value : undefined
  }

  /** The consumer spins: the producer need not notify (saves a syscall per record). */
  unpark(): void {
    Atomics.store(this.ctl, CONSUMER_PARKED, 0)
  }

  /** Wakes this thread's own pending waits on the ring (on close, so none is left behind). */
  wake(): void {
    Atomics.notify(this.ctl, W)
    Atomics.notify(this.ctl, R)
  }
}
