// Operations beyond a plain call, each against one raw round trip: a pipelined chain of three
// operations (vs the same three awaited one by one), and a call whose argument is a callback the
// far side calls once.
import { interleave, summarize, type Plan, type Summary, type Task } from '../lib/measure.ts'
import { quartersCell, ratioCell, us, type Table } from '../lib/report.ts'
import { QUARTERS_NOTE, type Outcome, type Row } from './calls.ts'

function repeat(name: string, ops: number, op: () => PromiseLike<number>, want: number): Task {
  return {
    name,
    ops,
    async run() {
      for (let i = 0; i < ops; i++) {
        const got = await op()
        if (got !== want) throw new Error(`${name}: answered ${String(got)}, expected ${want}`)
      }
    },
  }
}

/** Tasks for every row whose session has `kind`, named "<row> <label>"; rows without it are left out. */
function tasks(rows: Row[], kind: 'chain' | 'steps' | 'callback', label: string, ops: number, want: number): Task[] {
  const out: Task[] = []
  for (const { name, session } of rows) {
    const op = session[kind]?.bind(session)
    if (op !== undefined) out.push(repeat(`${name} ${label}`, ops, op, want))
  }
  return out
}

function table(title: string, note: string, summaries: Summary[], baseline: string): Table {
  return {
    title,
    note: `${note} ${QUARTERS_NOTE}`,
    columns: ['row', 'µs / op (median)', `× ${baseline}`, 'by quarter of the run'],
    rows: summaries.map((s) => [s.name, us(s.us), ratioCell(s), quartersCell(s)]),
  }
}

export async function chain(rows: Row[], raw: Row, plan: Plan, ops: number): Promise<Outcome> {
  const base = `${raw.name} round trip`
  const all = [
    ...tasks(rows, 'chain', 'chain (pipelined)', ops, 10),
    ...tasks(rows, 'steps', '3 awaited steps', ops, 10),
    repeat(base, ops, () => raw.session.add(9, 1), 10),
  ]
  const samples = await interleave(all, plan)
  const summaries = summarize(samples, base)
  const note =
    `\`await root.makeNode(1).child(0).value\`, each awaited before the next: ${ops} per slot, ${plan.rounds} rounds; "pipelined" sends the three ` +
    `operations in one batch, "3 awaited steps" awaits each (and releases the two intermediate Remotes). Ratio to one raw round trip.`
  return { table: table(plan.label, note, summaries, base), summaries, samples }
}

export async function callback(rows: Row[], raw: Row, plan: Plan, ops: number): Promise<Outcome> {
  const base = `${raw.name} round trip`
  const all = [...tasks(rows, 'callback', 'run(cb)', ops, 1), repeat(base, ops, () => raw.session.add(0, 1), 1)]
  const samples = await interleave(all, plan)
  const summaries = summarize(samples, base)
  const note =
    `\`await root.run(cb)\` with a fresh closure per call; the far side calls \`cb(1)\` once (a call back home) and answers 1 ` +
    `without waiting for it. comlink needs \`Comlink.proxy(cb)\` (a new MessageChannel per callback). ${ops} per slot, ${plan.rounds} rounds. Ratio to one raw round trip.`
  return { table: table(plan.label, note, summaries, base), summaries, samples }
}
