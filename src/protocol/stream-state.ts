// One stream's state on this side of a connection (End): its id, the credit each way, the data
// waiting to leave, the hooks stream-ends.ts sets; what a chunk costs against the credit; and
// the options of a peer's stream marker, checked before a stream is made from them.
import type { StreamKind, StreamOptions } from '../codec/streams.ts'
import { WireFault } from './fault.ts'
import type { Id } from './messages.ts'

/** Largest window a peer's highWaterMark can ask this side for. */
export const MAX_WINDOW = 64 * 1024 * 1024
const noop = () => {}

/** What a chunk that is neither bytes nor a string counts against the credit, in bytes. */
export const OBJECT_COST = 1024
/** What a chunk counts against the credit: its bytes (bytes, strings: code units), else OBJECT_COST. */
export function costOf(chunk: unknown): number {
  if (typeof chunk === 'string') return Math.max(1, chunk.length)
  if (ArrayBuffer.isView(chunk) || chunk instanceof ArrayBuffer) return Math.max(1, chunk.byteLength)
  return OBJECT_COST
}

/** One stream crossing the connection, on this side: the owner's original or the far copy. */
export class End {
  /** Whether the outgoing chunks are codec-encoded values (object mode) rather than bytes. */
  outObject = false
  inObject = false
  /** Outgoing: credit left, chunks queued for a flush (from outHead), chunks waiting for credit. */
  credit = 0
  out: unknown[] = []
  outHead = 0
  held: unknown[] = []
  /** The outgoing flow may still be offered data (end() not yet called). */
  outOpen: boolean
  endAfterHeld = false
  /** Incoming: the window, credit granted and data received so far; whether more may come. */
  window = 0
  maxWindow = 0
  granted = 0
  received = 0
  inOpen: boolean
  /** Flows (each way) not yet over; at 0 the End leaves the table. */
  flows: number
  /** Left the table: nothing more comes for it (what it queued still leaves, unless closed). */
  gone = false
  /** Stopped: its queued data is dropped. */
  closed = false
  /** The call (served here) or signal (of a call of ours) that aborts it; undefined for none. */
  call: Id | undefined
  unbind: (() => void) | undefined
  // set by stream-ends.ts
  /** Credit arrived and nothing waits for it: the producer may offer more. */
  ready: (() => void) | undefined
  data: (value: unknown, cost: number) => void = noop
  ended: () => void = noop
  /** SDONE arrived: everything written reached the owner's stream. */
  done: () => void = noop
  /** The stream stopped from elsewhere (the peer, a signal, the connection): stop the local one. */
  aborted: (err: unknown) => void = noop

  constructor(readonly key: number, readonly kind: StreamKind, sends: boolean, takes: boolean) {
    this.outOpen = sends
    this.inOpen = takes
    this.flows = (sends ? 1 : 0) + (takes ? 1 : 0)
  }
}

/** The options of a peer's stream marker, checked: what a Node stream would refuse is a fault. */
export function checkOptions(o: unknown): StreamOptions {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new WireFault('bad stream marker: options')
  const { ro, rh, re, wo, wh, half } = o as Record<string, unknown>
  const hwm = (h: unknown) => h === undefined || (typeof h === 'number' && Number.isInteger(h) && h >= 0 && h <= MAX_WINDOW)
  const flag = (f: unknown) => f === undefined || typeof f === 'boolean'
  if (!flag(ro) || !flag(wo) || !flag(half) || !hwm(rh) || !hwm(wh) || (re !== undefined && (typeof re !== 'string' || !Buffer.isEncoding(re)))) {
    throw new WireFault('bad stream marker: options')
  }
  return o as StreamOptions
}
