// pool(): worker threads or child processes, kept by tinypool, that run a module's exported
// functions (run, map) and hold instances of its classes (create). tinypool owns the workers'
// lives; the work travels over one farside connection per worker, batched (README "Pool").
// A little over 400 lines: the pool's public surface, each member with its contract, and its one
// dispatch loop; the parts (slot, queue, map, options, calls) live beside it.
import { EventEmitter } from 'node:events'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { withOptions } from '../helpers/ops.ts'
import { AbortError, ConnectionClosedError } from '../errors.ts'
import { resolvePoolOptions, startTinypool, type PoolOptions, type ResolvedPoolOptions } from './options.ts'
import { Slot, type TinypoolLike } from './slot.ts'
import { Queue, type Job } from './queue.ts'
import { mapInOrder, type MapOptions } from './map.ts'
import { describe, isCallOptions, lostError, within } from './calls.ts'
import type { ClassKeys, CtorParams, FunctionKeys, Instance, Params, PoolCallOptions, PoolStats, Result } from './types.ts'

export type { PoolCallOptions, PoolStats } from './types.ts'

/** @internal Replaces the worker entry file (tests run it from the sources through a loader). */
export const POOL_ENTRY = Symbol('farside.poolEntry')

const noop = () => {}
const asyncDispose: typeof Symbol.asyncDispose = Symbol.asyncDispose ?? Symbol.for('nodejs.asyncDispose')
/** While a worker waits to be recycled with remotes alive, how often to look again (ms). */
const RECYCLE_POLL_MS = 100

/**
 * A pool of `options.size` workers running the module at `module` (its exported functions and
 * classes); `M` is its type (`typeof import('./tasks.js')`) for typed names and results. Returns
 * at once: the workers start in the background (`p.ready`), calls queue until they can go.
 * Throws TypeError for an unknown option (naming the nearest) or a bad value. A module that fails
 * to load in a worker fails `ready` and every call with ConnectionClosedError (the module's error
 * as `cause`), and the pool stops: no worker is started again for it.
 */
export function pool<M = Record<string, any>>(module: string | URL, options: PoolOptions = {}): Pool<M> {
  return new Pool<M>(module, options)
}

export class Pool<M = Record<string, any>> extends EventEmitter {
  /** Resolves once every worker has loaded the module; rejects if the module fails to load. */
  readonly ready: Promise<void>
  #options: ResolvedPoolOptions
  #module: string
  #entry: string
  #tp: Promise<TinypoolLike>
  #slots: Slot[] = []
  #starting = new Set<Slot>()
  #queue = new Queue()
  #pumping = false
  /** Calls sent to a worker and not yet answered. */
  #out = new Set<Job>()
  #state: 'open' | 'closing' | 'closed' = 'open'
  #failure: unknown
  #everAttached = false
  #startFailures = 0
  #closing: Promise<void> | undefined
  #drainWaiters: (() => void)[] = []
  #recycleTimer: ReturnType<typeof setInterval> | undefined
  #started = performance.now()
  #busyDone = 0
  #counts = { completed: 0, failed: 0, replaced: 0, recycled: 0 }

  /** Use pool(). */
  constructor(module: string | URL, options: PoolOptions & { [POOL_ENTRY]?: URL } = {}) {
    super()
    if (typeof module !== 'string' && !(module instanceof URL)) throw new TypeError('pool() needs the URL or path of a module')
    const { [POOL_ENTRY]: entry, ...rest } = options
    this.#options = resolvePoolOptions(rest)
    this.#module = module instanceof URL ? module.href : /^[a-z][a-z0-9+.-]*:/i.test(module) ? module : pathToFileURL(resolve(module)).href
    this.#entry = fileURLToPath(entry ?? new URL('./entry.ts', import.meta.url))
    let readyResolve!: () => void
    let readyReject!: (e: unknown) => void
    this.ready = new Promise((resolve, reject) => [readyResolve, readyReject] = [resolve, reject])
    this.ready.catch(noop)
    this.#tp = startTinypool(this.#options, this.#entry)
    this.#tp.catch(noop)
    const first: Promise<void>[] = []
    for (let i = 0; i < this.#options.size; i++) first.push(this.#grow())
    Promise.all(first).then(() => (this.#failure === undefined ? readyResolve() : readyReject(this.#failure)), readyReject)
  }

  /**
   * Calls the exported function `name` with `args` in the least loaded worker and resolves with
   * its result (by farside's rules: callbacks and class instances cross by reference). A last
   * argument that is exactly `{ signal: AbortSignal }` is the call's options, not an argument.
   * Rejects with what the function throws; AbortError when aborted (at once, also if the task
   * ignores `currentCall().signal`); ConnectionClosedError if its worker died meanwhile (other
   * calls go on, on the others and the replacement) or the pool was closed or destroyed.
   */
  run<K extends FunctionKeys<M>>(name: K, ...args: [...Params<M[K]>] | [...Params<M[K]>, PoolCallOptions]): Promise<Result<M[K]>> {
    return this.#submit('run', name, args) as Promise<Result<M[K]>>
  }

  /**
   * Constructs the exported class `name` with `args` in the least loaded worker (fewest tasks and
   * remotes) and resolves with a Remote of the instance, which stays in that worker: a Remote
   * like any other. That worker is not recycled while Remotes into it are alive; if it dies they
   * reject with ConnectionClosedError. Options and rejections as run().
   */
  create<K extends ClassKeys<M>>(name: K, ...args: [...CtorParams<M[K]>] | [...CtorParams<M[K]>, PoolCallOptions]): Promise<Instance<M[K]>> {
    return this.#submit('create', name, args) as Promise<Instance<M[K]>>
  }

  /**
   * Runs `name(item)` for every item of `items` (an iterable or async iterable, read lazily as
   * room frees up) with at most `concurrency` calls out at once (default 256), and yields the
   * results in input order. A failed call throws from the loop at its place; breaking out of the
   * loop, a failure or `signal` aborts the calls still out and closes `items`.
   */
  map<K extends FunctionKeys<M>>(items: Iterable<Params<M[K]>[0]> | AsyncIterable<Params<M[K]>[0]>, name: K, options: MapOptions = {}): AsyncGenerator<Result<M[K]>, void, undefined> {
    return mapInOrder(items, options, (item, signal) => this.#submit('run', name, [item], signal)) as AsyncGenerator<Result<M[K]>, void, undefined>
  }

  /** Counters and gauges; see PoolStats. */
  stats(): PoolStats {
    let busy = this.#busyDone
    let remotes = 0
    for (const s of this.#slots) {
      busy += s.busy()
      remotes += s.conn.isClosed ? 0 : s.remotes
    }
    const elapsed = (performance.now() - this.#started) * this.#options.size
    return {
      workers: this.#slots.length,
      queued: this.#queue.size,
      running: this.#out.size,
      ...this.#counts,
      utilisation: elapsed > 0 ? Math.min(1, busy / elapsed) : 0,
      remotes,
    }
  }

  /**
   * Stops taking calls (new ones reject with ConnectionClosedError), lets the queued and running
   * ones finish, then closes every connection (Remotes from create() then reject) and stops the
   * workers. Idempotent: every call returns the same promise; after destroy(), its promise.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#state = 'closing'
    this.#closing = (async () => {
      if (this.#queue.size > 0 || this.#out.size > 0) await new Promise<void>((resolve) => this.#drainWaiters.push(resolve))
      await this.#shutdown()
    })()
    return this.#closing
  }

  /**
   * Fails everything at once: queued and running calls reject with `error` (default: a
   * ConnectionClosedError saying the pool was destroyed) before anything is torn down, then the
   * connections close and the workers stop. Idempotent; also ends a close() that is draining.
   */
  destroy(error?: unknown): Promise<void> {
    const err = error ?? new ConnectionClosedError({ reason: 'local' }, 'the pool was destroyed')
    if (this.#state !== 'closed') {
      this.#state = 'closed'
      // later calls are refused with the same error
      if (error !== undefined) this.#failure ??= error
      this.#failAll(err)
    }
    return (this.#closing ??= this.#shutdown())
  }

  /** `await using p = pool(...)`: close(). */
  [asyncDispose](): Promise<void> {
    return this.close()
  }

  // ---- calls ----

  #submit(kind: Job['kind'], name: string, args: unknown[], signal?: AbortSignal): Promise<unknown> {
    if (typeof name !== 'string') return Promise.reject(new TypeError(`${kind}() needs the name of an export`))
    if (signal === undefined) {
      const last = args[args.length - 1]
      if (isCallOptions(last)) {
        signal = last.signal
        args = args.slice(0, -1)
      }
    }
    if (this.#state !== 'open') {
      return Promise.reject(this.#failure ?? new ConnectionClosedError({ reason: 'local' }, `the pool is ${this.#state === 'closing' ? 'closing' : 'closed'}: ${kind}('${name}') was not started`))
    }
    if (signal?.aborted) return Promise.reject(new AbortError('the pool call was aborted before it started', { cause: signal.reason }))
    return new Promise((resolve, reject) => {
      const job: Job = { kind, name, args, signal, resolve, reject, slot: undefined, sent: 0, done: false }
      if (signal !== undefined) {
        job.onAbort = () => {
          // queued: off the queue; running: the connection rejects it and cancels it in the worker
          if (job.slot !== undefined || job.done) return
          this.#queue.remove(job)
          this.#settle(job, false, new AbortError('the pool call was aborted while it waited for a worker', { cause: signal!.reason }))
        }
        signal.addEventListener('abort', job.onAbort, { once: true })
      }
      this.#queue.push(job)
      this.#pump()
    })
  }

  /** Sends queued calls once this turn's submissions are in (so they can travel as a batch). */
  #pump(): void {
    if (this.#pumping) return
    this.#pumping = true
    queueMicrotask(this.#pumpNow)
  }

  /**
   * Sends queued calls to workers with room, least loaded first. The run() calls of one turn
   * bound for one worker go as one batch (one farside call, Agent.runMany): the per-call cost of
   * tiny tasks is what a pool is measured by. A batch's calls share their signal, if any (map()'s
   * all do): aborting it cancels the batch's call, and each task in it sees the abort. create()
   * goes alone.
   */
  #pumpNow = (): void => {
    this.#pumping = false
    const slots = this.#slots
    const batches = new Map<Slot, Job[]>()
    while (this.#queue.size > 0) {
      const job = this.#queue.peek()!
      let best: Slot | undefined
      let bestLoad = Infinity
      for (const s of slots) {
        if (!s.open) continue
        const load = job.kind === 'create' ? s.load + s.remotes : s.load
        if (load < bestLoad) [best, bestLoad] = [s, load]
      }
      if (best === undefined) break
      this.#queue.shift()
      job.slot = best
      this.#out.add(job)
      best.take()
      job.sent = performance.now()
      if (job.kind === 'run') {
        let batch = batches.get(best)
        // one batch, one call: its calls share a signal (map()'s do), or have none
        if (batch !== undefined && batch[0]!.signal !== job.signal) {
          this.#sendAll(best, batch)
          batch = undefined
        }
        if (batch === undefined) batches.set(best, (batch = [job]))
        else batch.push(job)
        // at most half a window per batch, so the next batch is there while a worker runs one
        if (batch.length * 2 >= best.window) {
          this.#sendAll(best, batch)
          batches.delete(best)
        }
      } else {
        this.#send(best, job)
      }
    }
    for (const [slot, jobs] of batches) this.#sendAll(slot, jobs)
  }

  #sendAll(slot: Slot, jobs: Job[]): void {
    if (jobs.length === 1) this.#send(slot, jobs[0]!)
    else this.#sendBatch(slot, jobs)
  }

  #send(slot: Slot, job: Job): void {
    const target = job.signal === undefined ? slot.root : withOptions(slot.root, { signal: job.signal })
    const result = job.kind === 'run' ? target.run(job.name, job.args) : target.create(job.name, job.args)
    ;(result as PromiseLike<unknown>).then(
      (value) => this.#answered(job, true, value),
      (error) => this.#answered(job, false, error),
    )
  }

  #sendBatch(slot: Slot, jobs: Job[]): void {
    // [name, args, name, args, ...] out; [ok, value, ok, value, ...] back (ok: 1 or 0)
    const calls = new Array<unknown>(jobs.length * 2)
    for (let i = 0; i < jobs.length; i++) {
      calls[2 * i] = jobs[i]!.name
      calls[2 * i + 1] = jobs[i]!.args
    }
    const signal = jobs[0]!.signal
    const target = signal === undefined ? slot.root : withOptions(slot.root, { signal })
    ;(target.runMany(calls) as PromiseLike<unknown[]>).then(
      (results) => {
        for (let i = 0; i < jobs.length; i++) this.#answered(jobs[i]!, results[2 * i] === 1, results[2 * i + 1])
      },
      (error) => {
        for (const job of jobs) this.#answered(job, false, error)
      },
    )
  }

  #answered(job: Job, ok: boolean, value: unknown): void {
    const slot = job.slot!
    this.#out.delete(job)
    slot.done(job.sent)
    if (!ok && value instanceof ConnectionClosedError && this.#state !== 'closed' && !slot.draining) {
      // its worker died: say so, with how it ended, once tinypool or the exit has told
      void within(slot.gone, 1000).then((end) => this.#settle(job, false, lostError(slot, end, job, value)))
    } else {
      this.#settle(job, ok, value)
    }
    if (slot.recycle) this.#maybeRecycle(slot)
    this.#pump()
    if (this.#drainWaiters.length > 0 && this.#queue.size === 0 && this.#out.size === 0) for (const w of this.#drainWaiters.splice(0)) w()
  }

  #settle(job: Job, ok: boolean, value: unknown): void {
    if (job.done) return
    job.done = true
    if (job.onAbort !== undefined) job.signal!.removeEventListener('abort', job.onAbort)
    this.#counts.completed++
    if (ok) return job.resolve(value)
    this.#counts.failed++
    job.reject(value)
  }

  #failAll(error: unknown): void {
    for (let job = this.#queue.shift(); job !== undefined; job = this.#queue.shift()) this.#settle(job, false, error)
    // running calls fail first (piscina's order): tearing down comes after
    for (const job of this.#out) this.#settle(job, false, error)
    for (const w of this.#drainWaiters.splice(0)) w()
  }

  // ---- workers ----

  /** Starts one worker's attach task; on its end, a replacement (while the pool is open). */
  async #grow(): Promise<void> {
    let tp: TinypoolLike
    try {
      tp = await this.#tp
    } catch (err) {
      return this.#fail(err)
    }
    if (this.#state === 'closed') return
    const slot = new Slot(tp, this.#options.runtime, this.#options.sharedMemory, { module: this.#module, ...(this.#options.memoryLimit !== undefined ? { memoryLimit: this.#options.memoryLimit } : {}) }, { full: () => this.#full(slot) }, this.#options.tasksPerWorker)
    this.#starting.add(slot)
    void slot.task.then(noop, noop).then(() => this.#ended(slot))
    void slot.conn.closed.then(() => this.#lost(slot))
    try {
      await slot.start(tp)
    } catch (err) {
      this.#starting.delete(slot)
      slot.draining = true
      void slot.conn.close()
      if (this.#state !== 'open') return
      // the module itself failed (a throw, a syntax error, a missing file): no point retrying
      const died = err instanceof ConnectionClosedError
      if (!died || !this.#everAttached || ++this.#startFailures >= 3) {
        return this.#fail(new ConnectionClosedError({ reason: 'error', error: err }, `the pool's module ${this.#module} failed to ${died ? 'start in a worker' : 'load'}: ${describe(err)}`))
      }
      return
    }
    this.#starting.delete(slot)
    if ((this.#state as string) === 'closed' || slot.conn.isClosed) return void slot.conn.close()
    this.#everAttached = true
    this.#startFailures = 0
    this.#slots.push(slot)
    this.emit('online', slot.id)
    this.#pump()
  }

  /** The slot's connection closed: it takes no more work; its calls have failed with it. */
  #lost(slot: Slot): void {
    const i = this.#slots.indexOf(slot)
    if (i < 0) return
    this.#slots.splice(i, 1)
    this.#busyDone += slot.busy()
    if (!slot.draining && this.#state !== 'closed') {
      this.#counts.replaced++
      void slot.gone.then((end) => this.emit('crash', slot.id, end))
    }
  }

  /** tinypool's attach task ended: the worker is gone, recycled or free; attach a new one. */
  #ended(slot: Slot): void {
    this.#lost(slot)
    if (!slot.conn.isClosed) void slot.conn.close()
    if (this.#state !== 'closed' && this.#failure === undefined && !(this.#state === 'closing' && this.#queue.size === 0)) void this.#grow()
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return
    this.#failure = error
    void this.destroy(error)
  }

  #full(slot: Slot): void {
    slot.recycle = true
    this.#maybeRecycle(slot)
  }

  /** Retires a worker past its memory limit once no Remote into it is alive and its tasks are done. */
  #maybeRecycle(slot: Slot): void {
    if (!slot.draining) {
      if (slot.remotes > 0) {
        this.#recycleTimer ??= setInterval(() => this.#pollRecycle(), RECYCLE_POLL_MS)
        this.#recycleTimer.unref?.()
        return
      }
      slot.draining = true
    }
    if (slot.load > 0 || slot.conn.isClosed) return
    this.#counts.recycled++
    this.emit('recycle', slot.id)
    // ends the attach task: tinypool sees the heap past maxMemoryLimitBeforeRecycle and replaces the worker
    void slot.conn.close()
  }

  #pollRecycle(): void {
    const waiting = this.#slots.filter((s) => s.recycle && !s.draining)
    for (const s of waiting) this.#maybeRecycle(s)
    if (!this.#slots.some((s) => s.recycle && !s.draining)) {
      clearInterval(this.#recycleTimer)
      this.#recycleTimer = undefined
    }
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closed'
    clearInterval(this.#recycleTimer)
    this.#failAll(this.#failure ?? new ConnectionClosedError({ reason: 'local' }, 'the pool was closed'))
    const slots = [...this.#slots, ...this.#starting]
    for (const s of slots) s.draining = true
    await Promise.all(slots.map((s) => s.conn.close()))
    const tp = await this.#tp.catch(() => undefined)
    await tp?.destroy()
  }
}
