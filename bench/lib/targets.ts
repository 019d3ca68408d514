// The targets DESIGN.md sets for the benchmark, read from the scenarios' figures.
import { summarize, type Samples, type Summary } from './measure.ts'
import { times, type Target } from './report.ts'

function find(summaries: Summary[], name: string): Summary {
  const s = summaries.find((x) => x.name === name)
  if (s === undefined) throw new Error(`no row named ${name}`)
  return s
}

/** `goal` is met when the row's median ratio is at most (or, for throughput, at least) `limit`. */
export function ratioTarget(name: string, goal: string, summaries: Summary[], row: string, limit: number, atLeast = false): Target {
  const s = find(summaries, row)
  return { name, goal, measured: times(s.ratio), pass: atLeast ? s.ratio >= limit : s.ratio <= limit }
}

/** `row` is faster than each peer: the median of its per-round time ratios to that peer is below 1. */
export function fasterThan(samples: Samples, row: string, peers: string[]): Target {
  const vs = peers.map((peer) => ({ peer, ratio: find(summarize(samples, peer), row).ratio }))
  return {
    name: 'sequential vs peers',
    goal: `${row} faster per call than ${peers.join(', ')}`,
    measured: vs.map((v) => `${times(v.ratio)} ${v.peer}`).join(', '),
    pass: vs.every((v) => v.ratio < 1),
  }
}
