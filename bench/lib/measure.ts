// Interleaved timing. On a 2-core machine a thread wake-up alone swings 20–80 µs between runs, so
// contenders are never timed in separate blocks: each round times every contender once, in a
// rotating order, and each contender is compared with the baseline of the same round.
import { performance } from 'node:perf_hooks'

/** One contender's work for one timed slot. */
export interface Task {
  name: string
  /** Operations one run() performs, to turn its time into µs per operation. */
  ops: number
  /** Does the work; throws if an answer is wrong (a fast wrong answer is no result). */
  run(): Promise<void>
}

/** µs per operation of each task, one figure per round, in round order. */
export type Samples = Map<string, number[]>

export interface Plan {
  rounds: number
  /** Untimed rounds first: JIT, inline caches, worker start-up. */
  warmup: number
  /** Printed on stderr with the round number. */
  label: string
}

export async function interleave(tasks: Task[], plan: Plan): Promise<Samples> {
  const samples: Samples = new Map(tasks.map((t) => [t.name, []]))
  const random = lcg(tasks.length * 7919 + plan.rounds)
  for (let r = -plan.warmup; r < plan.rounds; r++) {
    // a new order every round: what a contender leaves behind (a waking thread, a late message,
    // garbage) must not always land on the same successor, as a fixed rotation would make it
    for (const task of shuffle(tasks, random)) {
      const start = performance.now()
      await task.run()
      const us = ((performance.now() - start) * 1000) / task.ops
      if (r >= 0) samples.get(task.name)!.push(us)
    }
    const done = r + 1
    if (done > 0 && (done % Math.ceil(plan.rounds / 4) === 0 || done === plan.rounds)) progress(`${plan.label}: round ${done}/${plan.rounds}`)
  }
  return samples
}

/** A small seeded generator, so that a run's orders can be replayed. */
function lcg(seed: number): () => number {
  let x = seed >>> 0
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0
    return x / 2 ** 32
  }
}

function shuffle<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5)
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo)
}

/** Per-round ratios a[i] / b[i] (same round, same conditions). */
export function ratios(a: readonly number[], b: readonly number[]): number[] {
  return a.map((x, i) => x / b[i]!)
}

/** A task's figures against the baseline: median µs/op and the median and quartiles of its per-round ratios. */
export interface Summary {
  name: string
  us: number
  ratio: number
  ratioLo: number
  ratioHi: number
  /** The median ratio of each quarter of the rounds, in order: drift within the run shows here. */
  quarters: number[]
}

/** Summaries of every task; `invert` gives baseline/task (throughput) instead of task/baseline (time). */
export function summarize(samples: Samples, baseline: string, invert = false): Summary[] {
  const base = samples.get(baseline)
  if (base === undefined) throw new Error(`no baseline ${baseline}`)
  return [...samples].map(([name, us]) => {
    const r = invert ? ratios(base, us) : ratios(us, base)
    const quarters = [0, 1, 2, 3].map((q) => median(r.slice(Math.floor((q * r.length) / 4), Math.floor(((q + 1) * r.length) / 4))))
    return { name, us: median(us), ratio: median(r), ratioLo: quantile(r, 0.25), ratioHi: quantile(r, 0.75), quarters }
  })
}

/** Progress goes to stderr so that stdout stays clean. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`)
}

/** Runs `fn` with a deadline, so a contender that never answers fails the run instead of hanging it. */
export async function deadline<T>(what: string, ms: number, fn: () => PromiseLike<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([fn(), expired])
  } finally {
    clearTimeout(timer)
  }
}
