// The pool's far side, one per worker: tinypool runs attach() there as one long-lived task that
// loads the user's module and serves it over a farside connection until the parent lets go.
// A separate build input (dist/pool-entry.js, .cjs): tinypool loads it by file name.
import { isMainThread, threadId, type MessagePort } from 'node:worker_threads'
import { acceptPort, connectPort } from '../endpoints/port.ts'
import type { PortLike } from '../transport/message-port.ts'
import type { Connection } from '../protocol/connection.ts'

/**
 * The attach task: ["port"] carries a MessagePort (worker_threads); ["channel"] means tinypool's
 * channel over the child's IPC (child_process). A later transport (shared memory) is one more kind.
 */
export interface AttachTask {
  module: string
  kind: 'port' | 'channel'
  port?: MessagePort
  /** Check the heap every this many tasks and ask to be recycled past `memoryLimit` bytes. */
  memoryLimit?: number
  /** The parent sends shared-memory rings first on the port (pool option sharedMemory). */
  sharedMemory?: boolean
}

/** What the parent's side of each worker connection serves to the worker. */
export interface PoolControl {
  /** The worker's heap is past maxMemoryLimitBeforeRecycle: recycle it once it holds nothing. */
  full(): void
}

const CHECK_EVERY = 16

/** The root each worker serves: the user's module, reached by export name. */
export class Agent {
  #module: Record<string, unknown> | undefined
  #loading: Promise<void>
  #control: PoolControl | undefined
  #limit: number | undefined
  #count = 0

  constructor(url: string, control: PoolControl | undefined, limit: number | undefined) {
    this.#control = control
    this.#limit = limit
    this.#loading = import(url).then((m: Record<string, unknown>) => {
      this.#module = m
    })
    this.#loading.catch(() => {})
  }

  /**
   * Resolves once the module is loaded with this worker's id (threadId or pid, as tinypool's
   * `threads[i].threadId` says) and the module's export names; rejects with the module's own
   * error (a top-level throw, a syntax error, a missing file).
   */
  async hello(): Promise<{ id: number; exports: string[] }> {
    await this.#loading
    return { id: isMainThread ? process.pid : threadId, exports: Object.keys(this.#module!) }
  }

  /** Calls the exported function `name` with `args`, synchronously (currentCall() works in it). */
  run(name: string, args: unknown[]): unknown {
    const fn = this.#export(name)
    if (typeof fn !== 'function') throw new TypeError(`the pool's module exports no function '${name}'`)
    if (this.#limit !== undefined && ++this.#count % CHECK_EVERY === 0) this.#checkMemory()
    return (fn as (...a: unknown[]) => unknown)(...args)
  }

  /**
   * Runs many calls of exported functions, `[name, args, name, args, ...]`, each as run() would,
   * in order, and answers `[ok, value, ...]` (ok: 1, or 0 with what it threw) once all settled:
   * at once when none returned a promise. The pool's batched path for plain run() calls.
   */
  runMany(calls: unknown[]): unknown[] | Promise<unknown[]> {
    const out = new Array<unknown>(calls.length)
    let waiting: Promise<void>[] | undefined
    for (let i = 0; i < calls.length; i += 2) {
      try {
        const value = this.run(calls[i] as string, calls[i + 1] as unknown[])
        if (value instanceof Promise) {
          ;(waiting ??= []).push(value.then(
            (v) => void ((out[i] = 1), (out[i + 1] = v)),
            (e) => void ((out[i] = 0), (out[i + 1] = e)),
          ))
          continue
        }
        out[i] = 1
        out[i + 1] = value
      } catch (err) {
        out[i] = 0
        out[i + 1] = err
      }
    }
    return waiting === undefined ? out : Promise.all(waiting).then(() => out)
  }

  /** Constructs the exported class `name` with `args`; the instance crosses by reference. */
  create(name: string, args: unknown[]): unknown {
    const cls = this.#export(name)
    if (typeof cls !== 'function') throw new TypeError(`the pool's module exports no class '${name}'`)
    return new (cls as new (...a: unknown[]) => unknown)(...args)
  }

  #export(name: string): unknown {
    if (typeof name !== 'string') throw new TypeError('a pool task is named by a string')
    const m = this.#module
    if (m === undefined) throw new Error('the pool module is not loaded yet')
    if (Object.hasOwn(m, name)) return m[name]
    // a CommonJS module whose exports Node could not list: they are all on its default
    const d = m.default as Record<string, unknown> | undefined
    return (typeof d === 'object' || typeof d === 'function') && d !== null && Object.hasOwn(d, name) ? d[name] : undefined
  }

  #checkMemory(): void {
    if (process.memoryUsage().heapUsed <= this.#limit!) return
    // once: the parent recycles this worker when it can
    this.#limit = undefined
    this.#control?.full()
  }
}

/**
 * tinypool's task function: serves the module over the task's channel and resolves (ending the
 * task, so that tinypool may recycle the worker) once the parent closes the connection. The
 * module's faults reach the parent through hello(), not through this task.
 */
export async function attach(task: AttachTask): Promise<number> {
  const endpoint = task.kind === 'port' ? task.port! : processPort()
  // the pool's side serves full(): this worker holds as many tasks as it should
  let conn: Connection<{ full(): void }> | undefined
  const control: PoolControl = {
    full: () => void Promise.resolve(conn?.root.full()).catch(noop),
  }
  const options = { root: new Agent(task.module, control, task.memoryLimit) }
  conn = task.sharedMemory === true && task.kind === 'port'
    ? await acceptPort<{ full(): void }>(task.port!, options)
    : connectPort<{ full(): void }>(endpoint, options)
  await conn.closed
  return 0
}

const noop = () => {}

/** Whether an IPC message is tinypool's own (its tasks share the child's channel with ours). */
const isTinypool = (m: unknown) => typeof m === 'object' && m !== null && (m as Record<string, unknown>).__tinypool_worker_message__ === true

/**
 * The child's end of tinypool's channel as a Node-style port: our messages over `process.send`,
 * tinypool's own left to it. Closing it only stops listening: tinypool owns the process.
 */
function processPort(): PortLike {
  const wrapped = new Map<(v: unknown) => void, (v: unknown) => void>()
  return {
    postMessage(value) {
      // a channel already gone drops the message, as a closed port would (the parent is leaving)
      if (process.connected) process.send!(value, undefined, undefined, noop)
    },
    on(event: 'message' | 'close', listener: (v?: unknown) => void) {
      if (event === 'close') return process.on('disconnect', listener)
      const f = (m: unknown) => {
        if (!isTinypool(m)) listener(m)
      }
      wrapped.set(listener, f)
      return process.on('message', f)
    },
    off(event: 'message' | 'close', listener: (v?: unknown) => void) {
      if (event === 'close') return process.off('disconnect', listener)
      const f = wrapped.get(listener)
      wrapped.delete(listener)
      return f === undefined ? process : process.off('message', f)
    },
  } as PortLike
}
