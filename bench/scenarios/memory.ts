// Memory: create and drop a million remote objects, then let the collector and the release
// messages run, and compare the exporter's table (in the worker) and both heaps with the start.
import type { Remote } from 'farside'
import type { FarsideSession, WorkerService } from '../contenders/farside.ts'
import { progress } from '../lib/measure.ts'
import { mib, type Table, type Target } from '../lib/report.ts'

const gc = (globalThis as { gc?: () => void }).gc
const tick = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Full collections with pauses between, so FinalizationRegistry callbacks run and releases are sent. */
async function settle(rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    gc?.()
    await tick(50)
  }
}

interface Snapshot {
  exported: number
  imported: number
  heap: number
  workerHeap: number
}

async function snapshot(s: FarsideSession, root: Remote<WorkerService>): Promise<Snapshot> {
  await settle(4)
  // ask the worker after this side's releases had time to cross
  const workerHeap = await root.heap()
  const { exported } = await root.stats()
  return { exported, imported: s.conn.stats().imported, heap: process.memoryUsage().heapUsed, workerHeap }
}

export async function memory(s: FarsideSession, total: number, inFlight: number): Promise<{ table: Table; targets: Target[] }> {
  if (gc === undefined) throw new Error('the memory run needs node --expose-gc')
  const root = s.conn.root as Remote<WorkerService>
  const before = await snapshot(s, root)
  let peak = before.exported
  const start = performance.now()
  for (let done = 0; done < total; done += inFlight) {
    const batch = new Array<PromiseLike<unknown>>(inFlight)
    for (let i = 0; i < inFlight; i++) batch[i] = root.make(done + i)
    await Promise.all(batch)
    // the Remotes are dropped here; sample the table now and then to see whether releases keep up
    const batches = done / inFlight + 1
    if (batches % 10 === 0) peak = Math.max(peak, (await root.stats()).exported)
    if (batches % 200 === 0) progress(`memory: ${(done + inFlight).toLocaleString('en-US')} remotes created`)
  }
  const seconds = (performance.now() - start) / 1000
  const after = await snapshot(s, root)
  const rows = [
    // an awaited stats() call's own result is answered and not kept, so the table reads 0 at rest
    ['exporter table (worker `exported`)', String(before.exported), String(after.exported), `peak sampled every 10 batches: ${peak.toLocaleString('en-US')}`],
    ['importer proxies (main `imported`)', String(before.imported), String(after.imported), ''],
    ['main heap', mib(before.heap), mib(after.heap), `${signed(after.heap - before.heap)}`],
    ['worker heap', mib(before.workerHeap), mib(after.workerHeap), `${signed(after.workerHeap - before.workerHeap)}`],
  ]
  const table: Table = {
    title: `Memory: ${total.toLocaleString('en-US')} remotes created and dropped (worker thread)`,
    note:
      `\`await root.make(i)\` returns a new class instance by reference; ${inFlight} in flight at a time, every Remote dropped at once. ` +
      `Took ${seconds.toFixed(1)} s (${Math.round(total / seconds).toLocaleString('en-US')} remotes/s). "after" is taken once \`global.gc()\` ` +
      `and 50 ms pauses (4 times on each side) let finalizers run and release messages cross.`,
    columns: ['figure', 'before', 'after', 'note'],
    rows,
  }
  const targets: Target[] = [
    {
      name: 'memory',
      goal: `exporter table back to its start size after ${total.toLocaleString('en-US')} create/drop`,
      measured: `${before.exported} → ${after.exported} (peak ${peak.toLocaleString('en-US')}); worker heap ${signed(after.workerHeap - before.workerHeap)}`,
      pass: after.exported <= before.exported,
    },
  ]
  return { table, targets }
}

function signed(bytes: number): string {
  return `${bytes >= 0 ? '+' : '−'}${mib(Math.abs(bytes))}`
}
