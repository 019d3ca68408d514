// Which values cross as streams (a table of kinds, one entry each) and the marker a stream
// crosses as. The protocol's stream table (protocol/streams.ts) moves the data; this file only
// recognises the kinds and reads the options that travel with them.
import { Duplex, Readable, Writable } from 'node:stream'

/**
 * Stream kinds on the wire: Node 'r' Readable, 'w' Writable, 'd' Duplex (a Transform arrives as
 * a Duplex); web 'R' ReadableStream, 'W' WritableStream.
 */
export type StreamKind = 'r' | 'w' | 'd' | 'R' | 'W'

/** The options a stream's far copy is made with; absent fields take the platform's defaults. */
export interface StreamOptions {
  /** Readable side: object mode, highWaterMark, encoding. */
  ro?: boolean
  rh?: number
  re?: string
  /** Writable side: object mode, highWaterMark. */
  wo?: boolean
  wh?: number
  /** Duplex: allowHalfOpen (false only when the original says so). */
  half?: boolean
}

interface KindEntry {
  kind: StreamKind
  test(value: object): boolean
  options(value: object): StreamOptions
}

const nodeReadable = (s: Readable): StreamOptions => ({ ro: s.readableObjectMode, rh: s.readableHighWaterMark, ...(s.readableEncoding ? { re: s.readableEncoding } : {}) })
const nodeWritable = (s: Writable): StreamOptions => ({ wo: s.writableObjectMode, wh: s.writableHighWaterMark })

// Order matters: a Duplex is also `instanceof Readable` and `instanceof Writable`.
const KINDS: KindEntry[] = [
  { kind: 'd', test: (v) => v instanceof Duplex, options: (v) => ({ ...nodeReadable(v as Duplex), ...nodeWritable(v as Duplex), ...((v as Duplex).allowHalfOpen ? {} : { half: false }) }) },
  { kind: 'r', test: (v) => v instanceof Readable, options: (v) => nodeReadable(v as Readable) },
  { kind: 'w', test: (v) => v instanceof Writable, options: (v) => nodeWritable(v as Writable) },
  { kind: 'R', test: (v) => typeof ReadableStream === 'function' && v instanceof ReadableStream, options: () => ({}) },
  { kind: 'W', test: (v) => typeof WritableStream === 'function' && v instanceof WritableStream, options: () => ({}) },
]

/** The stream kind of `value` and the options its far copy needs; undefined if it is no stream. */
export function streamKind(value: object): { kind: StreamKind; options: StreamOptions } | undefined {
  for (const entry of KINDS) if (entry.test(value)) return { kind: entry.kind, options: entry.options(value) }
  return undefined
}

/** Whether `value` crosses as a stream. */
export function isStream(value: object): boolean {
  return KINDS.some((entry) => entry.test(value))
}

/** Whether a kind read from the wire names one this side knows. */
export function isStreamKind(k: unknown): k is StreamKind {
  return k === 'r' || k === 'w' || k === 'd' || k === 'R' || k === 'W'
}

/** Whether the kind has a readable side (data flows from the stream's owner to its far copy). */
export const readsFrom = (k: StreamKind): boolean => k === 'r' || k === 'd' || k === 'R'
/** Whether the kind has a writable side (data flows from the far copy to the owner). */
export const writesTo = (k: StreamKind): boolean => k === 'w' || k === 'd' || k === 'W'
