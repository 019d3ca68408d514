// The shared-memory worker transport (worker(url, { sharedMemory: true })) against raw postMessage,
// the plain worker transport and the peers, in one run: sequential round trip, 1000 in flight,
// CPU time per call (the price of spinning) and the CPU an idle connection costs. Its payload
// scaling is a row of the every-transport tables (scenarios/transports.ts).
import { interleave, summarize, type Plan } from '../lib/measure.ts'
import { times, us, type Table, type Target } from '../lib/report.ts'
import { inFlight, sequential, sequentialTasks, type Row } from './calls.ts'

/** The shared-memory row's name in these tables. */
export const SHARED = 'farside (shared memory)'

export interface SharedMemorySizes {
  sequential: { calls: number; rounds: number; warmup: number }
  inFlight: { n: number; bursts: number; rounds: number; warmup: number }
  /** Sequential calls per row per round for the CPU figures, and the rounds. */
  cpu: { calls: number; rounds: number }
  /** How long the idle connection is watched, in ms. */
  idleMs: number
}

const plan = (label: string, s: { rounds: number; warmup: number }): Plan => ({ rounds: s.rounds, warmup: s.warmup, label })

/**
 * Measures `shared` (a farside row over shared memory) beside `rows` (farside over the Worker's
 * port, `raw` and the peers). Returns its tables and targets.
 */
export async function sharedMemory(rows: Row[], shared: Row, raw: string, peers: string[], sizes: SharedMemorySizes): Promise<{ tables: Table[]; targets: Target[] }> {
  const all = [{ name: SHARED, session: shared.session }, ...rows]
  const tables: Table[] = []
  const targets: Target[] = []

  const seq = await sequential(all, raw, plan('Shared memory: sequential round trip (worker thread)', sizes.sequential), sizes.sequential.calls)
  seq.table.note += ` "${SHARED}" runs in a worker of its own (worker(url, { sharedMemory: true })); the other rows are served by the one farside worker thread, as in the worker tables. Both worker threads are pinned to CPU 1 and this thread to CPU 0 for these tables (unpinned, the OS often puts two threads that wake each other in turn on one core, where polling cannot help, and keeps them there by luck: 6 µs or 37 µs a call from one run to the next).`
  tables.push(seq.table)
  const s = seq.summaries.find((x) => x.name === SHARED)!
  targets.push({ name: 'sequential call, shared memory', goal: '≤ 10 µs per call', measured: `${us(s.us)} µs`, pass: s.us <= 10 })
  for (const peer of [raw, ...peers]) {
    const r = summarize(seq.samples, peer).find((x) => x.name === SHARED)!
    targets.push({ name: `sequential call, shared memory vs ${peer}`, goal: '≥ 5× faster (≤ 0.20×)', measured: times(r.ratio), pass: r.ratio <= 0.2 })
  }

  const fl = sizes.inFlight
  const thr = await inFlight(all, raw, plan(`Shared memory: ${fl.n} calls in flight (worker thread)`, fl), fl.n, fl.bursts)
  tables.push(thr.table)
  const t = thr.summaries.find((x) => x.name === SHARED)!
  targets.push({ name: `${fl.n} in flight, shared memory`, goal: `≥ 3.00× ${raw} throughput`, measured: times(t.ratio), pass: t.ratio >= 3 })

  tables.push(await cpuPerCall(all, sizes.cpu))
  const idle = await idleCpu(sizes.idleMs)
  targets.push({ name: 'idle connection, shared memory', goal: '< 1% of one core', measured: `${(idle * 100).toFixed(2)}%`, pass: idle < 0.01 })
  return { tables, targets }
}

/**
 * CPU time per call: process.cpuUsage() (every thread of this process: the caller's and the far
 * side's) around each row's sequential calls, rounds interleaved, against the wall time.
 */
async function cpuPerCall(rows: Row[], sizes: { calls: number; rounds: number }): Promise<Table> {
  const tasks = sequentialTasks(rows, sizes.calls)
  const cpu = new Map<string, number[]>(rows.map((r) => [r.name, []]))
  const wall = new Map<string, number[]>(rows.map((r) => [r.name, []]))
  // interleave() times the wall clock; the CPU is read around each slot here
  const timed = tasks.map((task) => ({
    ...task,
    async run() {
      const before = process.cpuUsage()
      const t0 = performance.now()
      await task.run()
      const used = process.cpuUsage(before)
      wall.get(task.name)!.push(((performance.now() - t0) * 1000) / task.ops)
      cpu.get(task.name)!.push((used.user + used.system) / task.ops)
    },
  }))
  await interleave(timed, { rounds: sizes.rounds, warmup: 0, label: 'Shared memory: CPU time per call' })
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN
  return {
    title: 'Shared memory: CPU time per sequential call (both threads)',
    note:
      `\`add(i, 1)\` awaited one at a time, ${sizes.calls} calls per slot, ${sizes.rounds} rounds; CPU is process.cpuUsage() over each slot (user + system, ` +
      'every thread of the process, so the far side\'s thread counts too), per call, median over rounds. "cores busy" is CPU time over wall time: ' +
      'spinning keeps both threads busy during a run of calls, which is the price of the shorter round trip; when calls stop, both threads park.',
    columns: ['row', 'CPU µs / call', 'wall µs / call', 'cores busy'],
    rows: rows.map(({ name }) => {
      const c = median(cpu.get(name)!)
      const w = median(wall.get(name)!)
      return [name, us(c), us(w), (c / w).toFixed(2)]
    }),
  }
}

/** The share of one core the process uses over `ms` with every connection open and idle. */
async function idleCpu(ms: number): Promise<number> {
  // the last spins end within a few hundred µs; give them a moment
  await new Promise((r) => setTimeout(r, 50))
  const before = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, ms))
  const used = process.cpuUsage(before)
  return (used.user + used.system) / 1000 / (performance.now() - t0)
}

