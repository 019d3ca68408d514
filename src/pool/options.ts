// pool() options: which are the pool's own, which go to tinypool as they are, and which tinypool
// options the pool sets itself (refused with the option to use instead).
import { availableParallelism } from 'node:os'
import { unknownOption } from '../errors.ts'
import type { TinypoolLike } from './slot.ts'
import type { SharedMemoryOptions } from '../transport/shared-memory.ts'

/** Options of pool(). */
export interface PoolOptions {
  /** Workers the pool keeps (tinypool's minThreads = maxThreads). Default: os.availableParallelism(). */
  size?: number
  /** Worker threads or child processes (forked, serialization 'advanced'). Default 'worker_threads'. */
  runtime?: 'worker_threads' | 'child_process'
  /**
   * How many run() tasks one worker holds at once (sent, not yet answered). 'auto' (the default)
   * sizes it from how long tasks take there: deep for tiny tasks (so they travel in batches),
   * two for tasks of a millisecond or more (one running, the next at hand: no worker waits a round
   * trip between tasks, and a slow one does not sit on queued work).
   */
  tasksPerWorker?: number | 'auto'
  /**
   * Carry each worker's connection through shared memory instead of postMessage (see the worker()
   * option of that name): calls cost no cross-thread wake-up while a worker is busy with them.
   * worker_threads only. Default false.
   */
  sharedMemory?: boolean | SharedMemoryOptions
  /** Passed to tinypool: the worker thread's resource limits (worker_threads). */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; codeRangeSizeMb?: number; stackSizeMb?: number }
  /** Passed to tinypool: recycle a worker whose heap grew past this many bytes (once it holds no remotes). */
  maxMemoryLimitBeforeRecycle?: number
  /** Passed to tinypool: the workers' environment, argv and Node flags. */
  env?: Record<string, string>
  argv?: string[]
  execArgv?: string[]
  /** Passed to tinypool: ms to wait for a worker to stop before giving up on it. */
  terminateTimeout?: number
  /** Passed to tinypool (worker_threads). */
  trackUnmanagedFds?: boolean
}

/** Options with defaults applied. */
export interface ResolvedPoolOptions {
  size: number
  runtime: 'worker_threads' | 'child_process'
  tasksPerWorker: number | 'auto'
  sharedMemory: boolean | SharedMemoryOptions
  memoryLimit: number | undefined
  /** What goes to tinypool's constructor besides what the pool sets. */
  tinypool: Record<string, unknown>
}

const OWN = ['size', 'runtime', 'tasksPerWorker', 'sharedMemory']
const PASSED = ['resourceLimits', 'maxMemoryLimitBeforeRecycle', 'env', 'argv', 'execArgv', 'terminateTimeout', 'trackUnmanagedFds']
/** tinypool options the pool decides itself, with what to use instead. */
const SET_BY_POOL: Record<string, string> = {
  minThreads: "the pool keeps 'size' workers: use size",
  maxThreads: "the pool keeps 'size' workers: use size",
  concurrentTasksPerWorker: 'use tasksPerWorker',
  filename: 'the module is the first argument of pool()',
  name: 'tasks are named in run(name, ...)',
  useAtomics: 'the pool keeps each worker listening between tasks (useAtomics: false)',
  serialization: "the pool speaks farside over IPC (serialization: 'advanced')",
  isolateWorkers: 'a worker serves many tasks and keeps objects made by create()',
  idleTimeout: "the pool keeps 'size' workers",
  maxQueue: 'the queue is the pool\'s own',
  taskQueue: 'the queue is the pool\'s own',
  teardown: 'not supported by the pool',
  workerData: 'not supported by the pool: give the module what it needs through a task',
}

/** Applies defaults; throws TypeError for an unknown key (naming the nearest) or a bad value. */
export function resolvePoolOptions(o: PoolOptions): ResolvedPoolOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('pool() options must be an object')
  const tinypool: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(o)) {
    if (Object.hasOwn(SET_BY_POOL, k)) throw new TypeError(`pool option '${k}' is not taken: ${SET_BY_POOL[k]}`)
    if (PASSED.includes(k)) {
      if (v !== undefined) tinypool[k] = v
    } else if (!OWN.includes(k)) throw unknownOption('pool option', k, [...OWN, ...PASSED])
  }
  const size = o.size ?? Math.max(1, availableParallelism())
  if (!Number.isInteger(size) || size < 1) throw new TypeError('pool option size must be a whole number of workers, at least 1')
  const runtime = o.runtime ?? 'worker_threads'
  if (runtime !== 'worker_threads' && runtime !== 'child_process') throw new TypeError("pool option runtime must be 'worker_threads' or 'child_process'")
  const tasksPerWorker = o.tasksPerWorker ?? 'auto'
  if (tasksPerWorker !== 'auto' && !(Number.isInteger(tasksPerWorker) && tasksPerWorker >= 1)) {
    throw new TypeError("pool option tasksPerWorker must be 'auto' or a whole number, at least 1")
  }
  const limit = o.maxMemoryLimitBeforeRecycle
  if (limit !== undefined && !(typeof limit === 'number' && limit > 0)) throw new TypeError('pool option maxMemoryLimitBeforeRecycle must be a positive number of bytes')
  if (o.resourceLimits !== undefined && runtime !== 'worker_threads') throw new TypeError("pool option resourceLimits needs runtime: 'worker_threads' (use execArgv: ['--max-old-space-size=...'] for child processes)")
  const sharedMemory = o.sharedMemory ?? false
  if (sharedMemory !== false && runtime !== 'worker_threads') throw new TypeError("pool option sharedMemory needs runtime: 'worker_threads' (child processes share no memory)")
  return { size, runtime, tasksPerWorker, sharedMemory, memoryLimit: limit, tinypool }
}

/**
 * Starts tinypool with `entry` (the pool's worker entry) as its file: `size` workers for good,
 * each running one task of ours for its whole life. tinypool is loaded here, on first use (it is
 * an ES module; the CommonJS build reaches it through import()).
 */
export async function startTinypool(o: ResolvedPoolOptions, entry: string): Promise<TinypoolLike> {
  const { Tinypool } = await import('tinypool')
  return new Tinypool({
    ...o.tinypool,
    filename: entry,
    runtime: o.runtime,
    minThreads: o.size,
    maxThreads: o.size,
    // a worker whose one task never ends must keep listening, never park in Atomics.wait
    useAtomics: false,
    // tinypool gives a child only what `env` holds
    ...(o.runtime === 'child_process' ? { serialization: 'advanced', env: (o.tinypool.env ?? { ...process.env }) as Record<string, string> } : {}),
  }) as unknown as TinypoolLike
}
