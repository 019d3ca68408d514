// The outgoing side of a connection: one queue of wire messages, its transfer list and the
// releases waiting to ride along, one scheduler, the flush that decides each operation's pull
// flag, and what to do when a batch cannot be serialized.
import { FRAME_TOO_LARGE } from '../errors.ts'
import { OPS, RELEASE, messageLength } from './messages.ts'
import type { ResultState } from '../proxy/remote.ts'
import type { Transport, Transferable } from '../transport/transport.ts'

/** What the outbox asks of the rest of the connection. */
export interface OutboxHooks {
  /** Whether the handshake is done (nothing but the handshake leaves before). */
  ready(): boolean
  /** Whether the connection is closed (then nothing leaves). */
  closed(): boolean
  /** An operation left unawaited: the peer keeps its result for pipelining until released. */
  kept(state: ResultState): void
  /** One message could not be serialized; the part that made it decides what follows. */
  failed(message: unknown[], error: unknown): void
  /** Appends a batch's share of the stream data waiting; true if more waits. */
  fill?(queue: unknown[]): boolean
}

/**
 * The flush's microtasks: a resolved promise's then runs at the same place in the queue as
 * queueMicrotask, for a third of its cost in Node (which makes an AsyncResource per call).
 */
const resolved = Promise.resolve()

/** Entries (tags and fields) per part of a long batch: about 300 calls. */
const CHUNK_ENTRIES = 2048
/**
 * Batches of stream data one flush may send (each about 128 KiB: Streams.fill); the rest waits a
 * turn of the event loop, so timers, I/O and the peer's calls are served in between.
 */
const STREAM_BATCHES = 4

/** How soon a flush must follow what was just queued. */
export const enum Soon {
  /** An operation: two microtask hops, so `await r.a().b` asks for `.b` in the same batch. */
  Op,
  /** A reply, which waits for no `await`: one hop. */
  Reply,
  /** Releases alone: a later turn of the event loop, so call-reply-release costs two messages. */
  Idle,
}

export class Outbox {
  /** The batch being built: flat messages, each its tag and fields. */
  queue: unknown[] = []
  #transport: Transport
  #hooks: OutboxHooks
  #transfer: Transferable[] | undefined
  /** Operations in `queue` whose pull flag is decided at flush: state, index of the flag, ... */
  #unflushed: (ResultState | number)[] = []
  #releases: number[] = []
  #scheduled = false
  #idle: ReturnType<typeof setImmediate> | undefined
  #again: ReturnType<typeof setImmediate> | undefined
  #flushBound = () => this.flush()
  #hopBound = () => void resolved.then(this.#flushBound)

  constructor(transport: Transport, hooks: OutboxHooks) {
    this.#transport = transport
    this.#hooks = hooks
  }

  /** Whether anything waits to leave (for the end of the handshake). */
  get waiting(): boolean {
    return this.queue.length > 0 || this.#unflushed.length > 0 || this.#releases.length > 0
  }

  /**
   * Starts an operation: returns the queue for the caller to push its fields onto (hot path: no
   * array per call); `flagAt` is the offset of its pull flag among them. Schedules the flush.
   */
  beginOp(state: ResultState, flagAt: number): unknown[] {
    if (this.#releases.length > 0) this.#moveReleases()
    const q = this.queue
    this.#unflushed.push(state, q.length + flagAt)
    this.schedule(Soon.Op)
    return q
  }

  /** Queues one message (its tag and fields) for the next batch. */
  push(soon: Soon, ...message: unknown[]): void {
    if (this.#releases.length > 0) this.#moveReleases()
    for (let i = 0; i < message.length; i++) this.queue.push(message[i])
    this.schedule(soon)
  }

  /**
   * Queues a reply, [RET | THROW, rid, value], to leave a hop sooner than an operation (it waits
   * for no `await`). Fixed fields: no rest array on the per-call path.
   */
  reply(tag: number, rid: number, value: unknown): void {
    if (this.#releases.length > 0) this.#moveReleases()
    this.queue.push(tag, rid, value)
    this.schedule(Soon.Reply)
  }

  /** Adds buffers and ports to move with the next batch. */
  transfer(list: readonly Transferable[]): void {
    ;(this.#transfer ??= []).push(...list)
  }

  /** Queues the release of `count` references to the peer's `id`; it rides the next batch. */
  release(id: number, count: number): void {
    if (this.#hooks.closed()) return
    this.#releases.push(id, count)
    this.schedule(Soon.Idle)
  }

  /** The one scheduler: a flush at the latest `soon` asks for, unless one is due already. */
  schedule(soon: Soon): void {
    if (this.#scheduled) return
    if (soon === Soon.Idle) {
      if (this.#idle === undefined) {
        this.#idle = setImmediate(this.#flushBound)
        this.#idle.unref()
      }
      return
    }
    this.#scheduled = true
    void resolved.then(soon === Soon.Op ? this.#hopBound : this.#flushBound)
  }

  // Everything queued in one tick leaves as one batch. The pull flag of each operation is decided
  // here, late: only results awaited by now are sent back (`await` and Promise.all ask in time);
  // the rest stay on the peer, for pipelining, until pulled or dropped here.
  flush(): void {
    this.#scheduled = false
    if (this.#idle !== undefined) {
      clearImmediate(this.#idle)
      this.#idle = undefined
    }
    if (!this.#hooks.ready() || this.#hooks.closed()) return
    const unflushed = this.#unflushed
    for (let i = 0; i < unflushed.length; i += 2) {
      const state = unflushed[i] as ResultState
      state.sent = true
      // cancelled before it left: the CANCEL behind it frees it on the peer
      if (state.detached) this.queue[unflushed[i + 1] as number] = 0
      else if (state.awaited) {
        state.pulled = true
        // awaited and not built on: the peer may drop it as soon as it has answered
        if (!state.used) {
          state.drop = true
          this.queue[unflushed[i + 1] as number] = 2
        }
      } else {
        this.queue[unflushed[i + 1] as number] = 0
        this.#hooks.kept(state)
      }
    }
    unflushed.length = 0
    if (this.#releases.length > 0) this.#moveReleases()
    // stream data goes after the operations and replies, a share per batch and a few batches per
    // flush: a big stream never makes a small call wait behind all of it
    let more = this.#hooks.fill?.(this.queue) === true
    this.#sendQueued()
    for (let n = 1; more && n < STREAM_BATCHES && !this.#hooks.closed(); n++) {
      more = this.#hooks.fill!(this.queue)
      this.#sendQueued()
    }
    if (more) this.#again ??= setImmediate(() => {
      this.#again = undefined
      this.flush()
    })
  }

  /** Sends what is queued: one batch, or a long one in parts. */
  #sendQueued(): void {
    if (this.queue.length === 0) return
    const batch = this.queue
    const transfer = this.#transfer
    this.queue = []
    this.#transfer = undefined
    if (transfer !== undefined || batch.length <= 2 * CHUNK_ENTRIES) return this.send(batch, transfer)
    // a long batch (hundreds of calls in one tick) leaves in parts, so that the peer starts on the
    // first while this side encodes the rest (1000 calls in flight to a worker: 1.0–1.4 µs a call
    // in one batch, 0.75–0.9 in parts); the order and every pull flag are as for one batch
    let from = 0
    for (let i = 0; i < batch.length; ) {
      const n = messageLength(batch, i)
      if (n < 0) break
      i += n
      if (i - from >= CHUNK_ENTRIES) {
        this.send(batch.slice(from, i))
        from = i
      }
    }
    if (from < batch.length) this.send(batch.slice(from))
  }

  /**
   * Sends a batch at once. One over the peer's frame limit goes in halves (each half again, as
   * needed); a value the transport cannot serialize fails only its own message.
   */
  send(batch: unknown[], transfer?: Transferable[]): void {
    try {
      this.#transport.send(batch, transfer)
    } catch (err) {
      const messages = splitBatch(batch)
      if (messages.length === 1) return this.#hooks.failed(messages[0]!, err)
      // in parts, each part moves only what it holds: a part that fails leaves the others' buffers
      if ((err as { code?: unknown })?.code === FRAME_TOO_LARGE) {
        const half = messages.length >> 1
        const first = messages.slice(0, half).flat()
        const second = messages.slice(half).flat()
        this.send(first, transfersIn(first, transfer))
        this.send(second, transfersIn(second, transfer))
        return
      }
      for (const msg of messages) {
        try {
          this.#transport.send(msg, transfersIn(msg, transfer))
        } catch (e) {
          this.#hooks.failed(msg, e)
        }
      }
    }
  }

  /** The operations queued but not yet flushed (to fail them on abort). */
  unflushed(): ResultState[] {
    return this.#unflushed.filter((_, i) => i % 2 === 0) as ResultState[]
  }

  /** Forgets everything queued (the connection closed). */
  clear(): void {
    this.queue = []
    this.#unflushed.length = 0
    this.#releases = []
    this.#transfer = undefined
    if (this.#idle !== undefined) clearImmediate(this.#idle)
    this.#idle = undefined
    if (this.#again !== undefined) clearImmediate(this.#again)
    this.#again = undefined
  }

  /** Puts the waiting releases in the queue, in order with the messages around them. */
  #moveReleases(): void {
    const r = this.#releases
    // [RELEASE, id, count]
    for (let i = 0; i < r.length; i += 2) this.queue.push(RELEASE, r[i], r[i + 1])
    r.length = 0
  }
}

/** Whether a message is an operation (its tag is an op code). */
export const isOp = (tag: unknown): boolean => typeof tag === 'number' && tag < OPS.length

/**
 * The items of a transfer list that part of a batch holds (for the slow path of a failed send:
 * a buffer moved with one part is gone for the rest).
 */
function transfersIn(part: unknown[], transfer: readonly Transferable[] | undefined): Transferable[] | undefined {
  if (transfer === undefined || transfer.length === 0) return undefined
  const wanted = new Set<unknown>(transfer)
  const found = new Set<Transferable>()
  const seen = new Set<object>()
  const visit = (v: unknown, depth: number): void => {
    if (v === null || typeof v !== 'object' || depth > 64 || seen.has(v)) return
    seen.add(v)
    if (wanted.has(v)) found.add(v as Transferable)
    if (ArrayBuffer.isView(v)) {
      if (wanted.has(v.buffer)) found.add(v.buffer as ArrayBuffer)
      return
    }
    if (v instanceof Map) {
      for (const [k, x] of v) {
        visit(k, depth + 1)
        visit(x, depth + 1)
      }
    } else if (v instanceof Set || Array.isArray(v)) for (const x of v) visit(x, depth + 1)
    else for (const k of Object.keys(v)) visit((v as Record<string, unknown>)[k], depth + 1)
  }
  visit(part, 0)
  return found.size > 0 ? [...found] : undefined
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
