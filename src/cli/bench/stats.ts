// Summaries of samples and the farside-to-raw ratios the table and the report show.
import type { RowResult, Summary, TransportResult } from './results.ts'

/** Nearest-rank percentile of ascending `sorted` (p in 0..1); NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil(p * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** n, min, mean, p50/p90/p99/p999 and max of `samples` (not modified). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b)
  const sum = sorted.reduce((s, x) => s + x, 0)
  return {
    n: sorted.length,
    min: sorted[0] ?? NaN,
    mean: sorted.length ? sum / sorted.length : NaN,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: sorted[sorted.length - 1] ?? NaN,
  }
}

/** The transport's raw ping-pong row (the second row, by construction). */
export function rawOf(t: TransportResult): RowResult | undefined {
  return t.rows.find((r) => r.kind === 'raw')
}

/** `row`'s median round trip over the raw row's: 1.2 means 20% slower than raw. NaN when missing. */
export function latencyRatio(row: RowResult, raw: RowResult | undefined): number {
  return (row.latency?.p50 ?? NaN) / (raw?.latency?.p50 ?? NaN)
}

/** `row`'s calls/s over the raw row's at `inFlight`: 1.2 means 20% more calls per second. */
export function throughputRatio(row: RowResult, raw: RowResult | undefined, inFlight: number): number {
  const of = (r: RowResult | undefined) => r?.throughput.find((t) => t.inFlight === inFlight)?.callsPerSec ?? NaN
  return of(row) / of(raw)
}
