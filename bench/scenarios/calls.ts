// Round trips and throughput: the same add(i, 1) for every row, awaited one at a time or started
// a thousand at once. Used for worker threads and for the same-thread figures alike.
import type { Session } from '../contenders/contender.ts'
import { interleave, summarize, type Plan, type Samples, type Summary, type Task } from '../lib/measure.ts'
import { quartersCell, ratioCell, us, type Table } from '../lib/report.ts'

/** A started contender under the name its table row shows. */
export interface Row {
  name: string
  session: Session
}

function wrong(name: string, got: unknown, want: unknown): Error {
  return new Error(`${name}: add answered ${String(got)}, expected ${String(want)}`)
}

/** `calls` sequential round trips per slot. */
export function sequentialTasks(rows: Row[], calls: number): Task[] {
  return rows.map(({ name, session }) => ({
    name,
    ops: calls,
    async run() {
      for (let i = 0; i < calls; i++) {
        const got = await session.add(i, 1)
        if (got !== i + 1) throw wrong(name, got, i + 1)
      }
    },
  }))
}

/** `bursts` times: start `inFlight` calls, then await them all. */
export function inFlightTasks(rows: Row[], inFlight: number, bursts: number): Task[] {
  return rows.map(({ name, session }) => ({
    name,
    ops: inFlight * bursts,
    async run() {
      for (let b = 0; b < bursts; b++) {
        const calls = new Array<PromiseLike<number>>(inFlight)
        for (let i = 0; i < inFlight; i++) calls[i] = session.add(i, 1)
        const got = await Promise.all(calls)
        if (got[inFlight - 1] !== inFlight) throw wrong(name, got[inFlight - 1], inFlight)
      }
    },
  }))
}

/** How to read the quarters column; the figure drifts as the OS moves threads between cores. */
export const QUARTERS_NOTE = 'The last column gives the median ratio in each quarter of the rounds, in time order: how much it drifts within one run.'

/** What a scenario hands back: its table, and the figures targets are read from. */
export interface Outcome {
  table: Table
  summaries: Summary[]
  samples: Samples
}

export async function sequential(rows: Row[], baseline: string, plan: Plan, calls: number): Promise<Outcome> {
  const samples = await interleave(sequentialTasks(rows, calls), plan)
  const summaries = summarize(samples, baseline)
  const table: Table = {
    title: plan.label,
    note:
      `\`add(i, 1)\`, each awaited before the next: ${calls} calls per slot, ${plan.rounds} rounds. ` +
      `"× ${baseline}" is the median over rounds of each round's time ratio to ${baseline} (quartiles in brackets); lower is better. ` +
      QUARTERS_NOTE,
    columns: ['row', 'µs / call (median)', `× ${baseline}`, 'by quarter of the run'],
    rows: summaries.map((s) => [s.name, us(s.us), ratioCell(s), quartersCell(s)]),
  }
  return { table, summaries, samples }
}

export async function inFlight(rows: Row[], baseline: string, plan: Plan, n: number, bursts: number): Promise<Outcome> {
  const samples = await interleave(inFlightTasks(rows, n, bursts), plan)
  const summaries = summarize(samples, baseline, true)
  const table: Table = {
    title: plan.label,
    note:
      `${n} calls of \`add(i, 1)\` started at once, then all awaited: ${bursts} such burst${bursts > 1 ? 's' : ''} per slot, ${plan.rounds} rounds. ` +
      `"throughput × ${baseline}" is the median of per-round throughput ratios (${baseline} time / row time); higher is better. ` +
      QUARTERS_NOTE,
    columns: ['row', 'µs / call (median)', 'calls / s', `throughput × ${baseline}`, 'by quarter of the run'],
    rows: summaries.map((s) => [s.name, us(s.us), Math.round(1e6 / s.us).toLocaleString('en-US'), ratioCell(s), quartersCell(s)]),
  }
  return { table, summaries, samples }
}
