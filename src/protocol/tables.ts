// Per-connection handle tables. Exports: what this side holds for the peer (id → value with a
// reference count, and a reverse map so one object gets one id). Imports: a weak cache from the
// peer's ids to proxies, so the same remote object is the same proxy while it lives.
import { ProtocolError } from '../errors.ts'
import { WireFault } from './fault.ts'

/** A value this side serves under an id: an object exported by reference, or a result. */
export interface ExportEntry {
  value: unknown
  /** References the peer holds (for results: 1 until released). */
  refs: number
  /** For results: 0 pending, 1 fulfilled, 2 rejected. Exports are always 1. */
  state: 0 | 1 | 2
  /** For pending results: settles with the value. */
  promise?: Promise<unknown>
}

export class ExportTable {
  #entries = new Map<number, ExportEntry>()
  #ids = new Map<unknown, number>()
  #next = 1
  #max: number

  constructor(maxExports: number) {
    this.#max = maxExports
  }

  get size(): number {
    return this.#entries.size
  }

  /** Exports `value` by reference (one more reference for the peer); returns its stable id. */
  export(value: object): number {
    const id = this.#ids.get(value)
    if (id !== undefined) {
      this.#entries.get(id)!.refs++
      return id
    }
    if (this.#entries.size >= this.#max) throw new ProtocolError(`too many exports on this connection (limit ${this.#max})`)
    const fresh = this.#next++
    this.#entries.set(fresh, { value, refs: 1, state: 1 })
    this.#ids.set(value, fresh)
    return fresh
  }

  /** Whether `value` is exported by reference. */
  has(value: object): boolean {
    return this.#ids.has(value)
  }

  /** A new id that names no entry (promises exported by reference use these). */
  allocate(): number {
    return this.#next++
  }

  get(id: number): ExportEntry | undefined {
    return this.#entries.get(id)
  }

  /** Holds a result under the id the peer chose for it (negative). */
  setResult(rid: number, entry: ExportEntry): void {
    if (rid >= 0 || this.#entries.has(rid)) throw new WireFault(`bad result id ${rid}`)
    if (this.#entries.size >= this.#max) throw new ProtocolError(`too many exports on this connection (limit ${this.#max})`)
    this.#entries.set(rid, entry)
  }

  /** Drops `count` references to `id`; the entry goes when none are left. Refuses bad counts. */
  release(id: number, count: number): void {
    // both come from the wire: look before using them (a Map lookup of any value is safe)
    if (typeof id !== 'number' || !Number.isInteger(count) || count <= 0) throw new WireFault('a release must name an id and a positive count')
    const entry = this.#entries.get(id)
    if (entry === undefined) return // already gone: a release may cross a close of the same id
    if (!Number.isInteger(count) || count <= 0 || count > entry.refs) throw new WireFault(`bad release count for id ${id} (holds ${entry.refs})`)
    entry.refs -= count
    if (entry.refs > 0) return
    this.#entries.delete(id)
    if (id > 0) this.#ids.delete(entry.value)
  }

  /** Drops everything (the connection closed). */
  clear(): void {
    this.#entries.clear()
    this.#ids.clear()
  }
}

/** Counts how many times the peer sent one id to one proxy, so a release returns exactly that. */
export interface Tracker {
  id: number
  count: number
}

export class ImportTable {
  #proxies = new Map<number, { ref: WeakRef<object>; tracker: Tracker }>()
  #finalizer: FinalizationRegistry<Tracker>

  /** `collected` runs when a proxy was garbage-collected with references still counted. */
  constructor(collected: (tracker: Tracker) => void) {
    this.#finalizer = new FinalizationRegistry((tracker) => {
      const entry = this.#proxies.get(tracker.id)
      if (entry !== undefined && entry.tracker === tracker) this.#proxies.delete(tracker.id)
      if (tracker.count > 0) collected(tracker)
    })
  }

  get size(): number {
    return this.#proxies.size
  }

  /** The live proxy for `id`, counting one more reference; undefined if there is none. */
  take(id: number): object | undefined {
    const entry = this.#proxies.get(id)
    if (entry === undefined) return undefined
    const proxy = entry.ref.deref()
    if (proxy === undefined) return undefined
    entry.tracker.count++
    return proxy
  }

  /** Records a new proxy for `id` holding one reference. */
  add(id: number, proxy: object, tracker: Tracker): void {
    this.#proxies.set(id, { ref: new WeakRef(proxy), tracker })
    this.#finalizer.register(proxy, tracker, tracker)
  }

  /** Forgets a proxy released by hand; returns how many references it held. */
  forget(tracker: Tracker): number {
    const entry = this.#proxies.get(tracker.id)
    if (entry !== undefined && entry.tracker === tracker) this.#proxies.delete(tracker.id)
    this.#finalizer.unregister(tracker)
    const count = tracker.count
    tracker.count = 0
    return count
  }

  /** Forgets everything (the connection closed): nothing is released any more. */
  clear(): void {
    for (const { tracker } of this.#proxies.values()) {
      this.#finalizer.unregister(tracker)
      tracker.count = 0
    }
    this.#proxies.clear()
  }
}
