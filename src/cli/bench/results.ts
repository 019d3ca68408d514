// The shape of one `farside bench` run: what --json writes and what the table and the HTML report
// are drawn from. Times are in microseconds; every figure keeps the samples it was made from.

/** Order statistics of a set of samples (µs). Percentiles are nearest-rank. */
export interface Summary {
  n: number
  min: number
  mean: number
  p50: number
  p90: number
  p99: number
  p999: number
  max: number
}

/** Calls/s with `inFlight` calls outstanding at once. */
export interface ThroughputResult {
  inFlight: number
  /** All calls made over all the time taken. */
  callsPerSec: number
  calls: number
  /** µs per batch of `inFlight` calls (a batch: start them all, await them all). */
  batches: number[]
}

/** One round trip of `bytes` out and back (by value, copied both ways). */
export interface PayloadResult extends Summary {
  bytes: number
  samples: number[]
}

export interface RowResult {
  name: string
  kind: 'farside' | 'raw' | 'peer'
  /** Sequential calls, one in flight; samples are each call's round trip. */
  latency?: Summary & { samples: number[] }
  throughput: ThroughputResult[]
  payload: PayloadResult[]
  /** Set when the row failed: it has no (or partial) figures. */
  error?: string
}

export interface TransportResult {
  id: string
  channel: string
  /** farside first, then its raw ping-pong, then peers. */
  rows: RowResult[]
}

export interface Environment {
  cpu: string
  cores: number
  memoryGiB: number
  node: string
  v8: string
  os: string
  arch: string
  farside: string
}

export interface BenchReport {
  /** Format of this file; bumped when a field changes meaning. */
  schema: 1
  startedAt: string
  durationMs: number
  environment: Environment
  options: { quick: boolean; transports: string[]; payloads: number[]; inFlight: number[]; argv: string[] }
  transports: TransportResult[]
  /** Transports that could not run here, with why. */
  skipped: { id: string; reason: string }[]
  notes: string[]
}
