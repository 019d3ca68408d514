// What the pool does around one call: finding its options among its arguments, and the error
// that says how a call's worker died.
import { ConnectionClosedError } from '../errors.ts'
import type { Job } from './queue.ts'
import type { Slot, WorkerEnd } from './slot.ts'
import type { PoolCallOptions } from './types.ts'

/** Whether `v` is exactly `{ signal: AbortSignal }` (a plain object): run()'s and create()'s options. */
export function isCallOptions(v: unknown): v is PoolCallOptions {
  if (v === null || typeof v !== 'object' || Object.getPrototypeOf(v) !== Object.prototype) return false
  const keys = Object.keys(v)
  return keys.length === 1 && keys[0] === 'signal' && (v as PoolCallOptions).signal instanceof AbortSignal
}

export function lostError(slot: Slot, end: WorkerEnd | undefined, job: Job, err: ConnectionClosedError): ConnectionClosedError {
  const e = end ?? {}
  const how = e.signal != null ? `was killed (signal ${e.signal})` : e.exitCode != null ? `exited (code ${e.exitCode})` : 'died'
  const cause = e.error ?? err.cause
  const text = `pool worker ${slot.id ?? '?'} ${how} while it ran ${job.kind === 'run' ? `${job.name}()` : `new ${job.name}()`}${cause instanceof Error ? `: ${cause.message}` : ''}`
  return new ConnectionClosedError({ reason: 'error', ...(e.exitCode !== undefined ? { exitCode: e.exitCode } : {}), ...(e.signal != null ? { signal: e.signal } : {}), error: cause ?? err }, text)
}

export function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err)
}

/** `p`'s value, or undefined if it has not settled within `ms` (a bound, not a measurement). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout>
  return Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]).finally(() => clearTimeout(timer))
}
