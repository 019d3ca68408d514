// The pool: tiny-task throughput (farside's pool against plain tinypool, piscina and workerpool,
// on both runtimes where the peer has them), a CPU task on one worker and on two, and calls on a
// create()d remote against the same calls over a plain worker().
import { pool, worker, type Pool, type Remote } from 'farside'
import Tinypool from 'tinypool'
import { Piscina } from 'piscina'
import workerpool from 'workerpool'
import { interleave, progress, summarize, type Plan } from '../lib/measure.ts'
import { ratioCell, times, us, type Table, type Target } from '../lib/report.ts'

type Runtime = 'worker_threads' | 'child_process'
const tasks = new URL('../fixtures/pool-tasks.mjs', import.meta.url)
const WORKERS = 2

/** A started pool of 2 workers: runs `inc` or `fib` on one argument. */
interface Peer {
  name: string
  runtime: Runtime
  run(name: 'inc' | 'fib', x: number): Promise<number>
  close(): Promise<void>
}

function farsidePeer(runtime: Runtime, size = WORKERS): Peer & { pool: Pool } {
  const p = pool(tasks, { size, runtime })
  return { name: 'farside pool', runtime, pool: p, run: (name, x) => p.run(name, x) as Promise<number>, close: () => p.close() }
}

function tinypoolPeer(runtime: Runtime): Peer {
  const tp = new Tinypool({ filename: tasks.href, runtime, minThreads: WORKERS, maxThreads: WORKERS })
  return { name: 'tinypool', runtime, run: (name, x) => tp.run(x, { name }), close: () => tp.destroy() }
}

function piscinaPeer(): Peer {
  const ps = new Piscina({ filename: tasks.href, minThreads: WORKERS, maxThreads: WORKERS })
  return { name: 'piscina', runtime: 'worker_threads', run: (name, x) => ps.run(x, { name }), close: () => ps.destroy() }
}

function workerpoolPeer(runtime: Runtime): Peer {
  const wp = workerpool.pool(new URL('../fixtures/workerpool-tasks.mjs', import.meta.url).pathname, {
    minWorkers: WORKERS,
    maxWorkers: WORKERS,
    workerType: runtime === 'worker_threads' ? 'thread' : 'process',
  })
  return { name: 'workerpool', runtime, run: (name, x) => wp.exec(name, [x]) as unknown as Promise<number>, close: async () => void (await wp.terminate()) }
}

/** `n` tasks `inc(i)` started at once; tasks per second. Checks every answer. */
async function burst(peer: Peer, n: number): Promise<number> {
  const calls = new Array<Promise<number>>(n)
  const start = performance.now()
  for (let i = 0; i < n; i++) calls[i] = peer.run('inc', i)
  const got = await Promise.all(calls)
  const seconds = (performance.now() - start) / 1000
  for (let i = 0; i < n; i++) if (got[i] !== i + 1) throw new Error(`${peer.name}: inc(${i}) answered ${String(got[i])}`)
  return n / seconds
}

export interface PoolSizes {
  tiny: number
  warmup: number
  rounds: number
  fib: { n: number; tasks: number; rounds: number }
  calls: { calls: number; rounds: number; warmup: number }
}

/**
 * Tiny tasks: every peer on every runtime it has, `rounds` bursts of `tiny` tasks each (after a
 * warm-up burst), peers taking turns round by round; the median tasks/s per peer is reported.
 */
async function tinyTasks(sizes: PoolSizes): Promise<{ table: Table; targets: Target[] }> {
  const rows: string[][] = []
  const targets: Target[] = []
  for (const runtime of ['worker_threads', 'child_process'] as const) {
    const peers = [farsidePeer(runtime), tinypoolPeer(runtime), ...(runtime === 'worker_threads' ? [piscinaPeer()] : []), workerpoolPeer(runtime)]
    try {
      const rates = new Map<string, number[]>(peers.map((p) => [p.name, []]))
      for (const p of peers) await burst(p, sizes.warmup)
      for (let r = 0; r < sizes.rounds; r++) {
        for (const p of r % 2 === 0 ? peers : [...peers].reverse()) rates.get(p.name)!.push(await burst(p, sizes.tiny))
        progress(`pool tiny tasks (${runtime}): round ${r + 1}/${sizes.rounds}`)
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
      const ours = median(rates.get('farside pool')!)
      for (const p of peers) {
        const rate = median(rates.get(p.name)!)
        rows.push([p.name, runtime, Math.round(rate).toLocaleString('en-US'), p.name === 'farside pool' ? '' : times(ours / rate)])
        if (p.name === 'tinypool' || p.name === 'piscina') {
          targets.push({ name: `pool tiny tasks vs ${p.name} (${runtime})`, goal: '≥ 5.00× its throughput', measured: times(ours / rate), pass: ours / rate >= 5 })
        }
      }
    } finally {
      for (const p of peers) await p.close()
    }
  }
  const table: Table = {
    title: `Pool: ${sizes.tiny.toLocaleString('en-US')} tiny tasks (x + 1), ${WORKERS} workers`,
    note:
      `All tasks started at once, awaited together; the median of ${sizes.rounds} bursts per row (peers take turns, after a warm-up burst). ` +
      "\"farside ×\" is farside's pool's tasks/s over the row's. farside's pool sends the calls of one turn to one worker as one batch over " +
      'its farside connection; the peers post one message per task through their queues. piscina has no child_process runtime.',
    columns: ['pool', 'runtime', 'tasks/s', 'farside ×'],
    rows,
  }
  return { table, targets }
}

/** fib(n) tasks on a farside pool of 1 worker and of 2: does the work spread over both cores? */
async function cpuTasks(sizes: PoolSizes): Promise<{ table: Table; targets: Target[] }> {
  const { n, tasks: count, rounds } = sizes.fib
  const one = farsidePeer('worker_threads', 1)
  const two = farsidePeer('worker_threads', 2)
  try {
    const plan: Plan = { rounds, warmup: 1, label: `pool fib(${n})` }
    const task = (name: string, p: Peer) => ({
      name,
      ops: count,
      async run() {
        await Promise.all(Array.from({ length: count }, () => p.run('fib', n)))
      },
    })
    const samples = await interleave([task('1 worker', one), task('2 workers', two)], plan)
    const [base, pair] = summarize(samples, '1 worker', true)
    const table: Table = {
      title: `Pool: fib(${n}) CPU tasks, 1 worker against 2 (worker_threads)`,
      note: `${count} tasks started at once per slot, ${rounds} interleaved rounds; "speed-up" is the median per-round ratio of the 1-worker time to the 2-worker time.`,
      columns: ['pool', 'µs per task', 'speed-up'],
      rows: [
        ['1 worker', us(base!.us), ''],
        ['2 workers', us(pair!.us), ratioCell(pair!)],
      ],
    }
    return { table, targets: [{ name: 'pool CPU scaling', goal: '≥ 1.80× one worker with 2 workers', measured: times(pair!.ratio), pass: pair!.ratio >= 1.8 }] }
  } finally {
    await one.close()
    await two.close()
  }
}

/** Sequential calls on a create()d Counter against the same Counter over a plain worker(). */
async function pooledRemote(sizes: PoolSizes): Promise<{ table: Table; targets: Target[] }> {
  interface Counter {
    inc(): number
  }
  const p = farsidePeer('worker_threads', 1)
  const conn = await worker<{ Counter: new () => Counter }>(new URL('../fixtures/counter-worker.mjs', import.meta.url))
  try {
    const pooled = (await p.pool.create('Counter')) as Remote<Counter>
    const plain = (await new conn.root.Counter()) as Remote<Counter>
    const { calls, rounds, warmup } = sizes.calls
    const task = (name: string, c: Remote<Counter>) => ({
      name,
      ops: calls,
      async run() {
        const first = await c.inc()
        for (let i = 1; i < calls; i++) if ((await c.inc()) !== first + i) throw new Error(`${name}: counter skipped`)
      },
    })
    const samples = await interleave([task('plain worker()', plain), task('pool create()', pooled)], { rounds, warmup, label: 'pool create() calls' })
    const [base, ours] = summarize(samples, 'plain worker()')
    const table: Table = {
      title: `Pool: ${(calls * rounds).toLocaleString('en-US')} sequential calls on a create()d remote (worker_threads)`,
      note: `\`await c.inc()\` one at a time, ${calls} per slot, ${rounds} interleaved rounds; the ratio is the pooled remote's time per call over the plain worker()'s.`,
      columns: ['remote', 'µs per call', 'ratio'],
      rows: [
        ['plain worker()', us(base!.us), ''],
        ['pool create()', us(ours!.us), ratioCell(ours!)],
      ],
    }
    return { table, targets: [{ name: 'pooled remote calls', goal: '≤ 1.10× a plain worker()', measured: times(ours!.ratio), pass: ours!.ratio <= 1.1 }] }
  } finally {
    await p.close()
    await conn.close()
  }
}

/** Every pool table and target, one part after another. */
export async function poolScenario(sizes: PoolSizes): Promise<{ tables: Table[]; targets: Target[] }> {
  const parts = [await tinyTasks(sizes), await cpuTasks(sizes), await pooledRemote(sizes)]
  return { tables: parts.map((p) => p.table), targets: parts.flatMap((p) => p.targets) }
}
