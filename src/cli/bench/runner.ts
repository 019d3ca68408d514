// Runs one transport's rows: starts them, warms them up, then measures latency, throughput per
// in-flight count and payload round trips in interleaved rounds (every row takes a slice in turn,
// so a noisy moment on a shared machine falls on all rows, not on one), and closes them.
import { performance } from 'node:perf_hooks'
import type { Session } from './pingpong.ts'
import type { PayloadResult, RowResult, ThroughputResult, TransportResult } from './results.ts'
import { summarize } from './stats.ts'
import type { BenchContext, Row, TransportCase } from './transports.ts'

/** How long each measurement runs (per row, split over `rounds`). */
export interface Plan {
  latencyMs: number
  levelMs: number
  payloadMs: number
  rounds: number
  warmupCalls: number
  inFlight: number[]
  payloads: number[]
}

export const QUICK = { latencyMs: 200, levelMs: 75, payloadMs: 50, rounds: 3, warmupCalls: 600 }
export const FULL = { latencyMs: 2000, levelMs: 800, payloadMs: 500, rounds: 8, warmupCalls: 3000 }

/** A slice that gets no answer in this long is a failure (a far side that died or froze). */
const SLICE_DEADLINE_MS = 30_000
const MAX_SAMPLES_PER_SLICE = 200_000

/** Steps of one transport, for the progress bar: starting, latency, each in-flight count, each payload. */
export function stepsOf(plan: Plan): number {
  return 2 + plan.inFlight.length + plan.payloads.length
}

interface Live {
  row: Row
  session: Session
  result: RowResult
}

/**
 * Measures `t` with `plan`; `step(label)` is called as each step starts. Resolves with the
 * figures, or with `{ skipped }` when the transport cannot run here. A row that fails to start or
 * fails while measured keeps its error in `error` and leaves the others running; never rejects
 * for a row's failure.
 */
export async function runTransport(t: TransportCase, ctx: BenchContext, plan: Plan, step: (label: string) => void): Promise<TransportResult | { skipped: string }> {
  let rows: Row[]
  try {
    rows = await t.rows(ctx)
  } catch (err) {
    return { skipped: (err as Error).message }
  }
  const results: RowResult[] = rows.map((row) => ({ name: row.name, kind: row.kind, throughput: [], payload: [] }))
  const live: Live[] = []
  for (const [i, row] of rows.entries()) {
    try {
      const session = await guard(row.start(), `${row.name} did not start`)
      live.push({ row, session, result: results[i]! })
    } catch (err) {
      results[i]!.error = `did not start: ${(err as Error).message}`
    }
  }
  const each = async (what: string, fn: (l: Live) => Promise<void>) => {
    for (const l of [...live]) {
      try {
        await guard(fn(l), `${l.row.name}: ${what} got no answer`)
      } catch (err) {
        l.result.error = `${what}: ${(err as Error).message}`
        live.splice(live.indexOf(l), 1)
        await l.session.close().catch(() => {})
      }
    }
  }
  try {
    await each('warm-up', (l) => warmUp(l.session, plan))
    step(`${t.id} · latency`)
    const latency = new Map<Live, number[]>(live.map((l) => [l, []]))
    for (let r = 0; r < plan.rounds; r++) await each('latency', async (l) => sequential(l.session, plan.latencyMs / plan.rounds, latency.get(l)!))
    for (const l of live) l.result.latency = { ...summarize(latency.get(l)!), samples: latency.get(l)!.map(round) }
    for (const n of plan.inFlight) {
      step(`${t.id} · ${n} in flight`)
      const batches = new Map<Live, number[]>(live.map((l) => [l, []]))
      for (let r = 0; r < plan.rounds; r++) await each(`${n} in flight`, (l) => inFlight(l.session, n, plan.levelMs / plan.rounds, batches.get(l)!))
      for (const l of live) l.result.throughput.push(throughputOf(n, batches.get(l)!))
    }
    for (const bytes of plan.payloads) {
      step(`${t.id} · ${bytes} B payload`)
      const payload = new Uint8Array(bytes)
      const echoing = live.filter((l) => l.session.echo !== undefined)
      const samples = new Map<Live, number[]>(echoing.map((l) => [l, []]))
      for (let r = 0; r < plan.rounds; r++) {
        await each(`${bytes} B payload`, async (l) => {
          if (samples.has(l)) await echo(l.session, payload, plan.payloadMs / plan.rounds, samples.get(l)!)
        })
      }
      for (const l of echoing) {
        if (live.includes(l)) l.result.payload.push({ bytes, ...summarize(samples.get(l)!), samples: samples.get(l)!.map(round) } satisfies PayloadResult)
      }
    }
  } finally {
    await Promise.all(live.map((l) => l.session.close().catch(() => {})))
  }
  return { id: t.id, channel: t.channel, rows: results }
}

async function warmUp(s: Session, plan: Plan): Promise<void> {
  for (let i = 0; i < plan.warmupCalls; i++) await s.add(i, 1)
  await Promise.all(Array.from({ length: Math.max(...plan.inFlight, 1) }, (_, i) => s.add(i, 1)))
  if (s.echo) for (const bytes of plan.payloads) await s.echo(new Uint8Array(bytes))
}

/** One call at a time for `ms`: each round trip's µs into `out`. */
async function sequential(s: Session, ms: number, out: number[]): Promise<void> {
  const end = performance.now() + ms
  for (let i = 0; i < MAX_SAMPLES_PER_SLICE; i++) {
    const t0 = performance.now()
    const sum = await s.add(i, 1)
    const t1 = performance.now()
    if (sum !== i + 1) throw new Error(`add(${i}, 1) answered ${String(sum)}`)
    out.push((t1 - t0) * 1000)
    if (t1 >= end) return
  }
}

/** Batches of `n` calls started at once and awaited together, for `ms` (at least one): µs per batch into `out`. */
async function inFlight(s: Session, n: number, ms: number, out: number[]): Promise<void> {
  const end = performance.now() + ms
  const calls: PromiseLike<number>[] = new Array(n)
  for (;;) {
    const t0 = performance.now()
    for (let i = 0; i < n; i++) calls[i] = s.add(i, 1)
    const sums = await Promise.all(calls)
    const t1 = performance.now()
    if (sums[n - 1] !== n) throw new Error(`add(${n - 1}, 1) answered ${String(sums[n - 1])}`)
    out.push((t1 - t0) * 1000)
    if (t1 >= end || out.length >= MAX_SAMPLES_PER_SLICE) return
  }
}

/** `payload` out and back, one at a time, for `ms` (at least one): µs per round trip into `out`. */
async function echo(s: Session, payload: Uint8Array, ms: number, out: number[]): Promise<void> {
  const end = performance.now() + ms
  for (;;) {
    const t0 = performance.now()
    const back = await s.echo!(payload)
    const t1 = performance.now()
    if (back.byteLength !== payload.byteLength) throw new Error(`echo of ${payload.byteLength} B came back with ${back.byteLength} B`)
    out.push((t1 - t0) * 1000)
    if (t1 >= end || out.length >= MAX_SAMPLES_PER_SLICE) return
  }
}

function throughputOf(n: number, batches: number[]): ThroughputResult {
  const us = batches.reduce((s, x) => s + x, 0)
  return { inFlight: n, calls: n * batches.length, callsPerSec: (n * batches.length) / (us / 1e6), batches: batches.map(round) }
}

/** Samples to 0.01 µs: the clock is no finer, and the JSON stays small. */
const round = (us: number) => Math.round(us * 100) / 100

/** `p`, or a rejection after SLICE_DEADLINE_MS naming `what`. */
async function guard<T>(p: PromiseLike<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${SLICE_DEADLINE_MS / 1000} s`)), SLICE_DEADLINE_MS)
    })])
  } finally {
    clearTimeout(timer)
  }
}
