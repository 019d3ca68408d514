// The pool's public types: per-call options, stats, and the mapping from a module's type to the
// names and results run() and create() accept. No run-time code here.
import type { Remote, Settled } from '../types.ts'

/** Per-call options: the last argument of run() or create() when it is exactly `{ signal }`. */
export interface PoolCallOptions {
  /** Aborting it rejects the call with AbortError: taken off the queue, or cancelled in its worker. */
  signal: AbortSignal
}

/** What stats() reports. */
export interface PoolStats {
  /** Workers attached and serving. */
  workers: number
  /** Calls waiting for a worker. */
  queued: number
  /** Calls sent to a worker and not yet answered. */
  running: number
  /** Calls answered (either way) since the pool started. */
  completed: number
  /** Of those, the ones that failed (threw, were aborted, or lost with their worker). */
  failed: number
  /** Share of the time since the start that workers had work, 0 to 1 (per worker slot). */
  utilisation: number
  /** Remotes held into the workers (from create(), or handed out by tasks). */
  remotes: number
  /** Workers that died and were replaced. */
  replaced: number
  /** Workers recycled (maxMemoryLimitBeforeRecycle). */
  recycled: number
}

export type Fn = (...args: any[]) => any
export type Cls = abstract new (...args: any[]) => any
export type FunctionKeys<M> = { [K in keyof M]: M[K] extends Fn ? K : never }[keyof M] & string
export type ClassKeys<M> = { [K in keyof M]: M[K] extends Cls ? K : never }[keyof M] & string
export type Result<F> = F extends Fn ? Settled<Awaited<ReturnType<F>>> : unknown
export type Params<F> = F extends Fn ? Parameters<F> : unknown[]
export type CtorParams<C> = C extends Cls ? ConstructorParameters<C> : unknown[]
export type Instance<C> = C extends Cls ? Remote<InstanceType<C>> : Remote<unknown>
