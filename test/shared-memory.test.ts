// The shared-memory worker transport beyond the conformance suite: faults while a thread spins,
// backpressure of a full ring, batches that go by the port in order, idle CPU, a starved event
// loop, its options, and acceptPort() for ports passed by hand (the pool's way in).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MessageChannel } from 'node:worker_threads'
import { ConnectionClosedError, acceptPort, connectPort, transfer, worker, type Connection } from '../src/index.ts'
import { fixture, rejects, tsWorker, within } from './harness.ts'

const SMALL = { ringBytes: 4096 }
const peer = (sharedMemory: boolean | { ringBytes: number } = true) => tsWorker('ring-peer.ts', { sharedMemory })
const faulty = (mode: string) => tsWorker('faulty-worker.ts', { workerData: { mode }, sharedMemory: true })
const tick = () => new Promise<void>((r) => setImmediate(r))

test('a worker that exits inside a call, while the parent spins: pending calls reject at once', async () => {
  const conn = await peer()
  const root = conn.root as any
  const other = root.hang()
  const err = await rejects(root.exitNow(5), ConnectionClosedError, 'the call that exits')
  assert.is(err.exitCode, 5)
  await rejects(other, ConnectionClosedError, 'the other pending call')
  await rejects(root.echo(1), ConnectionClosedError, 'a call after the exit')
  assert.is((await within(conn.closed)).exitCode, 5)
  await conn.close()
})

for (const mode of ['exit', 'crash'] as const) {
  test(`a worker that ${mode}es mid-call: pending calls reject with why`, async () => {
    const conn = await faulty('serve')
    const root = conn.root as any
    assert.is(await root.ok(), 'ok')
    const err = await rejects(mode === 'exit' ? root.exit(3) : root.crash(), ConnectionClosedError, mode)
    assert.is(err.exitCode, mode === 'exit' ? 3 : 1)
    if (mode === 'crash') assert.match((err.cause as Error).message, /crashed mid-call/)
    await conn.close()
  })
}

test('a worker that exits before serving: worker() rejects with its exit code', async () => {
  const err = await rejects(faulty('exit-at-top'), ConnectionClosedError)
  assert.is(err.exitCode, 7)
})

test('closing during a run of calls (both threads spinning) terminates the worker and rejects', async () => {
  const conn = await peer()
  const root = conn.root as any
  let calls = 0
  const run = (async () => {
    for (;;) {
      await root.echo(calls)
      calls++
    }
  })()
  while (calls < 200) await tick()
  const closing = conn.close()
  const err = await rejects(run, ConnectionClosedError, 'the run of calls')
  assert.is(err.reason, 'local')
  await within(closing, 5000, 'worker termination')
  assert.is((await conn.closed).reason, 'local')
})

test('a full ring applies backpressure: 2000 batches into a 4 KiB ring while the worker is busy', async () => {
  const conn = await peer(SMALL)
  const root = conn.root as any
  // the worker reads nothing while it blocks: 2000 separate batches of ~500 bytes queue behind the ring
  const blocked = root.block(300)
  const pad = 'p'.repeat(480)
  const calls: Promise<number>[] = []
  for (let i = 0; i < 2000; i++) {
    calls.push(root.record({ i, pad }))
    await tick()
  }
  assert.ok((await blocked) > 0)
  const counts = await within(Promise.all(calls), 20000, 'the queued calls')
  assert.equal(counts, Array.from({ length: 2000 }, (_, i) => i + 1))
  const logged = (await root.logged()) as { i: number; pad: string }[]
  assert.equal(logged.map((x) => x.i), Array.from({ length: 2000 }, (_, i) => i))
  assert.ok(logged.every((x) => x.pad === pad), 'every batch arrived whole')
  await conn.close()
})

test('batches over half the ring and transfer lists go by the port, in order with the ring', async () => {
  const conn = await peer(SMALL)
  const root = conn.root as any
  const calls = [root.record('a')]
  await tick()
  calls.push(root.record('x'.repeat(10_000)))
  await tick()
  calls.push(root.record('b'))
  await tick()
  calls.push(root.record(transfer(new Uint8Array(64), [])))
  calls.push(root.record('c'))
  await tick()
  const buf = new Uint8Array(128)
  calls.push(root.record(transfer(buf, [buf.buffer])))
  calls.push(root.record('d'))
  await Promise.all(calls)
  assert.equal(await root.logged(), ['a', 'long:10000', 'b', 'bytes:64', 'c', 'bytes:128', 'd'])
  assert.is(buf.byteLength, 0, 'the buffer moved')
  // a batch larger than the ring itself: answered in full
  assert.is((await root.echo('y'.repeat(100_000))).length, 100_000)
  await conn.close()
})

test('typed arrays that cross by v8 in the ring are copies, not views of the ring', async () => {
  const conn = await peer(SMALL)
  const root = conn.root as any
  const bytes = (await root.echo(new Uint8Array([1, 2, 3]))) as Uint8Array
  // more traffic reuses the ring where those bytes were read
  for (let i = 0; i < 50; i++) await root.echo('z'.repeat(1000))
  assert.ok(bytes.buffer instanceof ArrayBuffer, 'not a view of the SharedArrayBuffer')
  assert.equal([...bytes], [1, 2, 3])
  await conn.close()
})

test('an idle connection costs (nearly) no CPU: both threads park', async () => {
  const conn = await peer()
  const root = conn.root as any
  for (let i = 0; i < 1000; i++) await root.echo(i)
  // let the last spins end, then measure a quiet second (the whole process: both threads)
  await new Promise((r) => setTimeout(r, 50))
  const before = process.cpuUsage()
  const t0 = performance.now()
  await new Promise((r) => setTimeout(r, 1000))
  const used = process.cpuUsage(before)
  const share = (used.user + used.system) / 1000 / (performance.now() - t0)
  assert.ok(share < 0.1, `an idle shared-memory connection used ${(share * 100).toFixed(1)}% of a core`)
  assert.is(await root.echo('still there'), 'still there')
  await conn.close()
})

test('a setInterval keeps firing during 100,000 sequential calls', async () => {
  const conn = await peer()
  const root = conn.root as any
  let fired = 0
  const timer = setInterval(() => fired++, 1)
  const t0 = performance.now()
  let sum = 0
  for (let i = 0; i < 100_000; i++) sum += (await root.echo(1)) as number
  const ms = performance.now() - t0
  clearInterval(timer)
  assert.is(sum, 100_000)
  // a loop starved by microtasks would fire none; the bound is loose on a busy machine
  assert.ok(fired >= Math.min(5, ms / 20), `setInterval fired ${fired} times in ${ms.toFixed(0)} ms`)
  await conn.close()
})

test('sharedMemory is checked like the other options, before a thread starts', async () => {
  const url = fixture('ring-peer.ts')
  const bad: [unknown, RegExp][] = [
    ['yes', /sharedMemory must be a boolean or \{ ringBytes \}/],
    [{ ringBytes: 1000 }, /power of two/],
    [{ ringbytes: 4096 }, /unknown shared-memory option 'sharedMemory.ringbytes' \(did you mean 'sharedMemory.ringBytes'\?\)/],
  ]
  for (const [value, message] of bad) {
    const err = await worker(url, { sharedMemory: value as never }).then(() => undefined, (e: unknown) => e)
    assert.instance(err, TypeError)
    assert.match((err as Error).message, message)
  }
  const err = await worker(url, { sharedMemry: true } as never).then(() => undefined, (e: unknown) => e)
  assert.match((err as Error).message, /did you mean 'sharedMemory'/)
})

test('worker(url, { sharedMemory: false }) is the plain worker transport', async () => {
  const conn = await peer(false)
  assert.is(await (conn.root as any).echo(2), 2)
  await conn.close()
})

for (const sharedMemory of [true, false]) {
  test(`connectPort(port, { sharedMemory: ${sharedMemory} }) and acceptPort() on the other end`, async () => {
    const { port1, port2 } = new MessageChannel()
    const a = connectPort(port1, { sharedMemory })
    const b: Connection = await acceptPort(port2, { root: { twice: (x: number) => 2 * x } })
    assert.is(await (a.root as any).twice(21), 42)
    await a.close()
    assert.is((await within(b.closed)).reason, 'peer')
    await b.close()
  })
}

test('acceptPort() on a port that closes before anything came: ConnectionClosedError', async () => {
  const { port1, port2 } = new MessageChannel()
  const accepting = acceptPort(port2)
  port1.close()
  await rejects(accepting, ConnectionClosedError)
  port2.close()
})

test.run()
