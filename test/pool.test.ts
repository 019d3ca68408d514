// The pool's own suite, run once per runtime (worker_threads, child_process) as tinypool runs its
// tests: run (batched by-value path, callbacks), create (stays in its worker), map, cancellation,
// stats, close/destroy, faults (a module that fails to load, exit, OOM, SIGKILL) and recycling.
import { suite, test } from 'uvu'
import * as assert from 'uvu/assert'
import { once } from 'node:events'
import { AbortError, ConnectionClosedError, isRemote, release, pool, type Pool } from '../src/index.ts'
import { POOL_ENTRY } from '../src/pool/pool.ts'
import type { PoolOptions } from '../src/pool/options.ts'
import { fixture, rejects, within } from './harness.ts'

type Tasks = typeof import('./fixtures/tasks.ts')
type Runtime = NonNullable<PoolOptions['runtime']>

/** A pool of the tasks fixture, its workers started from the sources through the TS loader. */
function tasks(runtime: Runtime, options: PoolOptions = {}, module = 'tasks.ts'): Pool<Tasks> {
  return pool<Tasks>(fixture(module), { runtime, ...options, [POOL_ENTRY]: fixture('entry-boot.mjs') } as PoolOptions)
}

/** The pool without its module's types, to call names the module lacks. */
const untyped = (p: Pool<Tasks>) => p as unknown as Pool

/** Resolves with the id of the next worker that comes online. */
const online = (p: Pool<Tasks>) => within(once(p, 'online'), 30_000, 'a replacement worker').then(([id]) => id as number)

for (const runtime of ['worker_threads', 'child_process'] as const) {
  const calls = suite<{ p: Pool<Tasks> }>(`pool (${runtime}): calls`)
  calls.before(async (ctx) => {
    ctx.p = tasks(runtime, { size: 2 })
    await within(ctx.p.ready, 30_000, 'the pool starting')
  })
  calls.after(async ({ p }) => {
    // `await using` closes the pool this way
    await p[Symbol.asyncDispose]()
    await rejects(p.run('inc', 1), ConnectionClosedError)
  })

  calls('run() calls an exported function with by-value arguments and result', async ({ p }) => {
    assert.is(await p.run('add', 2, 3), 5)
    assert.equal(await p.run('echo', { a: [1, 2n, new Map([[1, 'x']])] }), { a: [1, 2n, new Map([[1, 'x']])] })
  })

  calls('many tiny run() calls in one turn travel batched and all answer correctly', async ({ p }) => {
    const n = 5000
    const results = await Promise.all(Array.from({ length: n }, (_, i) => p.run('inc', i)))
    assert.ok(results.every((r, i) => r === i + 1))
    // both workers took part (least loaded first)
    const ids = new Set(await Promise.all(Array.from({ length: 200 }, () => p.run('where'))))
    assert.is(ids.size, 2)
  })

  calls('a task that throws rejects with its error; an unknown name is a TypeError', async ({ p }) => {
    const err = await rejects(p.run('fail', 'no such thing'), RangeError)
    assert.is(err.message, 'no such thing')
    // the batched path too: one failure among successes fails only itself
    const settled = await Promise.allSettled([p.run('inc', 1), p.run('fail', 'second'), p.run('inc', 2)])
    assert.equal(settled.map((s) => s.status), ['fulfilled', 'rejected', 'fulfilled'])
    await rejects(untyped(p).run('nope'), TypeError)
  })

  calls('run() with a callback: the task calls home', async ({ p }) => {
    assert.is(await p.run('callBack', async (x: number) => x + 1), 30)
  })

  calls('create() makes an instance that stays in its worker and works like any Remote', async ({ p }) => {
    const c = await p.create('Counter', 5)
    assert.ok(isRemote(c))
    const home = await c.where()
    for (let i = 0; i < 5; i++) assert.is(await c.inc(), 6 + i)
    assert.is(await c.where(), home)
    // pipelining, iteration
    assert.is(await c.child().inc(), 101)
    const seen: number[] = []
    for await (const x of c.upTo(4)) seen.push(x)
    assert.equal(seen, [0, 1, 2, 3])
    assert.ok(p.stats().remotes >= 1)
    release(c)
    assert.is(p.stats().remotes, 0)
  })

  calls('create() picks the least loaded worker: two instances, two workers', async ({ p }) => {
    const a = await p.create('Counter')
    const b = await p.create('Counter')
    assert.is.not(await a.where(), await b.where())
    release(a)
    release(b)
  })

  calls('map() yields in input order, with bounded work out, reading its input lazily', async ({ p }) => {
    // later items finish first: the order still follows the input
    const out: number[] = []
    for await (const ms of p.map([40, 30, 20, 10, 0], 'after', { concurrency: 5 })) out.push(ms)
    assert.equal(out, [40, 30, 20, 10, 0])
    let pulled = 0
    let yielded = 0
    let most = 0
    let closed = false
    async function* items() {
      try {
        for (let i = 0; i < 1000; i++) {
          pulled++
          most = Math.max(most, pulled - yielded)
          yield i
        }
      } finally {
        closed = true
      }
    }
    const results: number[] = []
    for await (const r of p.map(items(), 'inc', { concurrency: 3 })) {
      results.push(r)
      yielded++
      if (results.length === 10) break
    }
    assert.equal(results, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    assert.ok(most <= 3, `at most 3 out, saw ${most}`)
    assert.ok(pulled <= 13, `read lazily: pulled ${pulled}`)
    assert.ok(closed, 'the input is closed when the loop ends early')
  })

  calls('map(): a failure throws at its place; bad options are TypeErrors naming the nearest', async ({ p }) => {
    const got: number[] = []
    try {
      for await (const r of p.map([1, 2, 'boom' as never, 4], 'inc')) {
        if (typeof r !== 'number') throw new Error('not a number')
        got.push(r)
      }
    } catch {
      // 'boom' + 1 is a string, not a throw: the loop body threw
    }
    assert.equal(got, [2, 3])
    const err = await rejects((async () => {
      for await (const _ of p.map([1], 'inc', { concurency: 2 } as never)) void _
    })(), TypeError)
    assert.match(err.message, /did you mean 'concurrency'/)
  })

  calls('map(): its signal aborts the calls out, in their workers too, and ends the loop', async ({ p }) => {
    const ctl = new AbortController()
    let heard = 0
    let running = Infinity
    let all!: () => void
    const told = new Promise<void>((resolve) => (all = resolve))
    const tell = () => {
      if (++heard >= running) all()
    }
    const loop = (async () => {
      for await (const _ of p.map([tell, tell, tell], 'untilAborted', { signal: ctl.signal })) void _
    })()
    // all three are in (a worker's window may hold back some while the first ones never end)
    await within((async () => {
      while (p.stats().running + p.stats().queued < 3) await new Promise((r) => setImmediate(r))
    })(), 10_000, 'the calls going out')
    running = p.stats().running
    ctl.abort()
    await rejects(loop, AbortError)
    // every call that was out heard it; the queued ones were only taken off the queue
    if (heard >= running) all()
    await within(told, 5000, 'the tasks hearing the abort')
    assert.ok(running >= 1)
    assert.is(heard, running)
    assert.is(p.stats().queued, 0)
  })

  calls('a running task sees its abort through currentCall().signal; one that ignores it still rejects at once', async ({ p }) => {
    const ctl = new AbortController()
    let told!: (why: string) => void
    const heard = new Promise<string>((resolve) => (told = resolve))
    const running = p.run('untilAborted', (why: string) => told(why), { signal: ctl.signal })
    // wait until it runs: the task is out once stats say so
    await within(p.ready)
    while (p.stats().running === 0) await new Promise((r) => setImmediate(r))
    ctl.abort()
    await rejects(running, AbortError)
    assert.is(await within(heard, 5000, 'the task hearing the abort'), 'aborted')
    const deaf = new AbortController()
    const hanging = p.run('hang', { signal: deaf.signal })
    deaf.abort()
    await rejects(hanging, AbortError)
    await rejects(p.run('inc', 1, { signal: AbortSignal.abort() }), AbortError)
  })

  calls('stats() counts workers, calls, failures and utilisation', async ({ p }) => {
    const before = p.stats()
    assert.is(before.workers, 2)
    await p.run('inc', 1)
    await p.run('fail', 'x').catch(() => {})
    const after = p.stats()
    assert.is(after.completed, before.completed + 2)
    assert.is(after.failed, before.failed + 1)
    assert.is(after.queued, 0)
    assert.is(after.running, 0)
    assert.ok(after.utilisation > 0 && after.utilisation <= 1)
  })

  calls.run()

  const life = suite(`pool (${runtime}): queue, close, destroy`)

  life('a queued call aborted while it waits leaves the queue; queued work is not lost; close() drains', async () => {
    const p = tasks(runtime, { size: 1, tasksPerWorker: 1 })
    const first = p.run('sleep', 30)
    const ctl = new AbortController()
    const queued = p.run('inc', 1, { signal: ctl.signal })
    const later = p.run('inc', 2)
    await within(p.ready, 30_000)
    assert.is(p.stats().queued, 2)
    ctl.abort()
    await rejects(queued, AbortError)
    assert.is(p.stats().queued, 1)
    await first
    assert.is(await later, 3)
    // close() lets queued and running calls finish, then refuses new ones; idempotent
    const work = [p.run('sleep', 20), p.run('inc', 1), p.run('inc', 2)]
    const c = p.create('Counter', 1)
    const closing = p.close()
    assert.is(p.close(), closing)
    await rejects(p.run('inc', 3), ConnectionClosedError)
    const [, x, y] = await Promise.all(work)
    assert.equal([x, y], [2, 3])
    const counter = await c
    await closing
    await rejects(counter.inc(), ConnectionClosedError)
    assert.is(p.stats().workers, 0)
  })

  life('destroy(err) fails queued and running calls with err at once; idempotent', async () => {
    const p = tasks(runtime, { size: 1, tasksPerWorker: 1 })
    await within(p.ready, 30_000)
    const running = p.run('hang')
    const queued = p.run('inc', 1)
    const boom = new Error('shutting down')
    const destroying = p.destroy(boom)
    assert.is(p.destroy(), destroying)
    assert.is(await running.catch((e: unknown) => e), boom)
    assert.is(await queued.catch((e: unknown) => e), boom)
    await destroying
    assert.is(await p.run('inc', 1).catch((e: unknown) => e), boom)
    assert.is(p.close(), destroying)
  })

  life('unknown options are TypeErrors naming the nearest valid one', () => {
    assert.throws(() => tasks(runtime, { sise: 2 } as never), (e: Error) => e instanceof TypeError && /did you mean 'size'/.test(e.message))
    assert.throws(() => tasks(runtime, { maxThreads: 2 } as never), (e: Error) => e instanceof TypeError && /use size/.test(e.message))
    assert.throws(() => tasks(runtime, { size: 0 }), TypeError)
  })

  life.run()

  const faults = suite(`pool (${runtime}): faults`)

  faults('a module that fails to load fails ready and its calls clearly, without respawning', async () => {
    const p = tasks(runtime, { size: 1 }, 'tasks-broken.ts')
    const first = untyped(p).run('never')
    const err = await rejects(p.ready, ConnectionClosedError, 'ready')
    assert.match(err.message, /failed to load/)
    assert.match(String((err.cause as Error).message), /fails at the top level/)
    assert.is(await first.catch((e: unknown) => e), err)
    assert.is(await untyped(p).run('never').catch((e: unknown) => e), err)
    assert.is(p.stats().replaced, 0)
    await p.close()
  })

  faults('exit, OOM or SIGKILL fail the calls and remotes of that worker only; it is replaced, queued work goes on', async () => {
    // a heap limit small enough to run out of at once, and large enough to start (worker_threads)
    const limits: PoolOptions = runtime === 'worker_threads' ? { resourceLimits: { maxOldGenerationSizeMb: 48 } } : {}
    const p = tasks(runtime, { size: 1, tasksPerWorker: 1, ...limits })
    try {
      const c = await p.create('Counter', 1)
      const before = await c.where()
      const dying = p.run('exit', 3)
      const queued = p.run('add', 1, 2)
      let replaced = online(p)
      const err = await rejects(dying, ConnectionClosedError)
      assert.is(err.exitCode, 3)
      assert.match(err.message, /exited \(code 3\) while it ran exit\(\)/)
      await rejects(c.inc(), ConnectionClosedError)
      assert.is.not(await replaced, before)
      assert.is(await queued, 3)
      assert.is(p.stats().replaced, 1)
      replaced = online(p)
      if (runtime === 'worker_threads') {
        const oom = await rejects(p.run('exhaust'), ConnectionClosedError)
        assert.is((oom.cause as { code?: string })?.code, 'ERR_WORKER_OUT_OF_MEMORY')
      } else {
        const killed = await rejects(p.run('killSelf'), ConnectionClosedError)
        assert.is(killed.signal, 'SIGKILL')
      }
      await replaced
      assert.is(p.stats().replaced, 2)
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => p.run('inc', i)))
      assert.is(results[99], 100)
    } finally {
      await p.close()
    }
  })

  faults('a worker past maxMemoryLimitBeforeRecycle is not recycled while a remote into it lives', async () => {
    const p = tasks(runtime, { size: 1, maxMemoryLimitBeforeRecycle: 1 })
    try {
      const c = await p.create('Counter', 1)
      const home = await c.where()
      // the worker checks its heap every 16 tasks: it is past the limit at once
      for (let i = 0; i < 40; i++) await p.run('inc', i)
      assert.is(p.stats().recycled, 0)
      assert.is(await c.where(), home)
      const recycled = within(once(p, 'recycle'), 30_000, 'the recycle')
      const next = online(p)
      release(c)
      await recycled
      assert.is.not(await next, home)
      assert.is(await p.run('where'), await next)
      assert.is(p.stats().recycled, 1)
      assert.is(p.stats().replaced, 0)
    } finally {
      await p.close()
    }
  })

  faults.run()
}

const shared = suite('pool (worker_threads, shared memory)')
shared('sharedMemory: run, map, create and callbacks go through the rings; a worker that exits fails only its calls', async () => {
  const p = tasks('worker_threads', { size: 2, sharedMemory: true, tasksPerWorker: 4 })
  try {
    await within(p.ready, 30_000, 'the pool starting')
    const results = await Promise.all(Array.from({ length: 2000 }, (_, i) => p.run('inc', i)))
    assert.ok(results.every((r, i) => r === i + 1))
    const mapped: number[] = []
    for await (const r of p.map([1, 2, 3], 'inc', { concurrency: 2 })) mapped.push(r)
    assert.equal(mapped, [2, 3, 4])
    assert.is(await p.run('callBack', async (x: number) => x + 1), 30)
    const c = await p.create('Counter', 5)
    assert.is(await c.inc(), 6)
    const dying = p.run('exit', 3)
    await rejects(dying, ConnectionClosedError)
    assert.is(await p.run('add', 1, 2), 3)
    release(c)
  } finally {
    await p.close()
  }
})
shared('sharedMemory needs worker_threads: a TypeError that says so', () => {
  assert.throws(() => tasks('child_process', { sharedMemory: true }), /sharedMemory needs runtime: 'worker_threads'/)
})
shared.run()

test('the pool is exported from the package index', () => {
  assert.type(pool, 'function')
})

test.run()
