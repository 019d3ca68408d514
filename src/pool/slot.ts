// One pool worker as the pool sees it: tinypool's long-lived attach task in that worker, the
// farside connection it opened, how many tasks are out there and how deep to fill it.
import { performance } from 'node:perf_hooks'
import type { Connection } from '../protocol/connection.ts'
import { connectPort } from '../endpoints/port.ts'
import { ConnectionClosedError } from '../errors.ts'
import { workerChannel } from './channel.ts'
import type { AttachTask, PoolControl } from './entry.ts'
import type { SharedMemoryOptions } from '../transport/shared-memory.ts'

/** What the pool needs of tinypool (its Tinypool class, by shape). */
export interface TinypoolLike {
  run(task: unknown, options: object): Promise<unknown>
  readonly threads: readonly TinypoolWorkerLike[]
  destroy(): Promise<void>
}

/** A tinypool worker (thread or process) by shape: `threadId` is the thread id or the pid. */
export interface TinypoolWorkerLike {
  threadId: number
  on(event: string, listener: (...args: any[]) => void): void
  once(event: string, listener: (...args: any[]) => void): void
  emit(event: string, ...args: unknown[]): void
}

/** How a worker ended, as far as the pool learnt it. */
export interface WorkerEnd {
  exitCode?: number | null
  signal?: string | null
  error?: unknown
}

/**
 * A worker holds about TARGET_MS of work, at least MIN_WINDOW tasks (one running, the next at
 * hand, so it does not wait a round trip between tasks) and at most MAX_WINDOW (tiny tasks).
 */
const TARGET_MS = 2
const MIN_WINDOW = 2
const MAX_WINDOW = 1024

export class Slot {
  readonly conn: Connection
  /** The worker's Agent (entry.ts). */
  readonly root: any
  /** Settles when tinypool's attach task ends: resolved once we let go, rejected if the worker died. */
  readonly task: Promise<unknown>
  /** The worker's thread id or pid, once attached. */
  id: number | undefined
  /** Tasks sent and not yet answered. */
  load = 0
  /** How many tasks it may hold at once. */
  window: number
  /** Asked to be recycled (its heap is past the limit); done once it holds no remotes. */
  recycle = false
  /** Takes no more tasks: retiring or the pool is stopping. */
  draining = false
  /** Resolves once the worker is known gone (its attach task ended or it exited), with how. */
  readonly gone: Promise<WorkerEnd>
  #end: WorkerEnd = {}
  #goneResolve!: (end: WorkerEnd) => void
  /** tinypool's attach task has ended (then tinypool knows what became of the worker). */
  #settled = false
  #fixed: boolean
  #cost: number | undefined
  #lastDone = 0
  #busySince = 0
  /** ms this worker had at least one task out. */
  #busy = 0

  constructor(tp: TinypoolLike, runtime: 'worker_threads' | 'child_process', sharedMemory: boolean | SharedMemoryOptions, task: Omit<AttachTask, 'kind' | 'port' | 'sharedMemory'>, control: PoolControl, tasksPerWorker: number | 'auto') {
    this.#fixed = tasksPerWorker !== 'auto'
    this.window = tasksPerWorker === 'auto' ? MIN_WINDOW : tasksPerWorker
    this.gone = new Promise((resolve) => (this.#goneResolve = resolve))
    const channel = workerChannel(runtime)
    // with shared memory, the rings go first on the port; the worker's acceptPort() takes them
    const shared = sharedMemory !== false && runtime === 'worker_threads'
    this.conn = connectPort(channel.port, shared ? { root: control, sharedMemory } : { root: control })
    this.root = this.conn.root
    this.task = tp.run({ ...task, ...channel.task, sharedMemory: shared }, { name: 'attach', ...channel.run })
    this.task.then(
      () => {
        this.#settled = true
        this.#goneResolve(this.#end)
      },
      (error: unknown) => {
        this.#settled = true
        this.#end.error ??= error
        this.#goneResolve(this.#end)
      },
    )
  }

  /**
   * Resolves once the worker loaded the module (the Agent's hello). Rejects with the module's
   * error, or ConnectionClosedError if the worker died or tinypool gave up first.
   */
  async start(tp: TinypoolLike): Promise<void> {
    const failed = this.task.then(
      () => Promise.reject(new ConnectionClosedError({ reason: 'peer' }, 'the pool worker ended its attach task before it loaded the module')),
      (error: unknown) => Promise.reject(error),
    )
    const hello = (await Promise.race([this.root.hello(), failed])) as { id: number }
    this.id = hello.id
    const w = tp.threads.find((t) => t.threadId === hello.id)
    if (w === undefined) return
    let errored = false
    w.on('error', (error: unknown) => {
      errored = true
      this.#end.error ??= error
    })
    w.once('exit', (code: number | null, signal?: string | null) => {
      this.#end.exitCode = code
      if (signal != null) this.#end.signal = signal
      // tinypool learns of a thread's death only from its 'error' event: a worker thread that
      // called process.exit() has none, and would stay in its pool, dead, with our task on it
      if (!errored && !this.#settled && !this.draining) w.emit('error', new Error(`the pool worker exited (code ${code})`))
      this.#goneResolve(this.#end)
    })
  }

  /** One more task out. */
  take(): void {
    if (this.load++ === 0) this.#busySince = performance.now()
  }

  /** A task sent at `sent` (performance.now()) came back: adapt the window to the tasks' cost. */
  done(sent: number): void {
    const now = performance.now()
    if (--this.load === 0) this.#busy += now - this.#busySince
    const gap = now - Math.max(sent, this.#lastDone)
    this.#lastDone = now
    if (this.#fixed) return
    this.#cost = this.#cost === undefined ? gap : this.#cost * 0.75 + gap * 0.25
    this.window = Math.max(MIN_WINDOW, Math.min(MAX_WINDOW, Math.ceil(TARGET_MS / Math.max(this.#cost, 1e-3))))
  }

  /** ms spent with at least one task out, up to now. */
  busy(): number {
    return this.#busy + (this.load > 0 ? performance.now() - this.#busySince : 0)
  }

  /** Remotes the parent holds into this worker (from create(), or handed out by tasks). */
  get remotes(): number {
    return this.conn.stats().imported
  }

  /** Whether it may take another task. */
  get open(): boolean {
    return !this.draining && this.load < this.window && !this.conn.isClosed
  }
}
