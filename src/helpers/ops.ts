// Functions over Remotes for what a property access cannot say: explicit get/set/delete/has/keys,
// release, identity, by-value obtain/deliver and buffered iteration. Public API only.
import { handleOf, type Handle, type IterOptions } from '../proxy/handle.ts'
import { makeProxy } from '../proxy/remote.ts'
import { bufferedIterator } from '../proxy/iterate.ts'
import type { Connection } from '../protocol/connection.ts'
import { unknownOption } from '../errors.ts'
import type { CallOptions, Remote, RemotePromise, Settled } from '../types.ts'

const ITER_KEYS = ['chunk', 'max', 'factor']

function handle(r: unknown, fn: string): Handle {
  const h = handleOf(r)
  if (h === undefined) throw new TypeError(`${fn}() needs a Remote`)
  return h
}

function withName(h: Handle, name: string | number): Handle {
  if (typeof name !== 'string' && typeof name !== 'number') throw new TypeError('a property name must be a string or number')
  return { ...h, path: [...h.path, name] }
}

/** Whether `value` is a Remote or RemotePromise (of any connection). */
export function isRemote(value: unknown): boolean {
  return handleOf(value) !== undefined
}

/** The connection a Remote belongs to. Throws TypeError for anything else. */
export function connectionOf(remote: unknown): Connection {
  return handle(remote, 'connectionOf').host.connection as Connection
}

/**
 * Whether two Remotes name the same remote object. Settled Remotes of one object are the same
 * proxy already (`===`); this also compares unsettled paths and results by their target.
 */
export function same(a: unknown, b: unknown): boolean {
  if (a === b) return true
  const x = handleOf(a)
  const y = handleOf(b)
  if (x === undefined || y === undefined || x.host !== y.host || x.result !== y.result || x.base !== y.base) return false
  return x.path.length === y.path.length && x.path.every((k, i) => k === y.path[i])
}

/** Reads a property, including one named `then` (which `await r.then` cannot). */
export function get<T = unknown>(remote: unknown, name: string | number): RemotePromise<T> {
  const h = withName(handle(remote, 'get'), name)
  return h.host.op('get', h) as RemotePromise<T>
}

/** Sets a property and resolves once the peer has done it (needs `allowSet` on the peer). */
export async function set(remote: unknown, name: string | number, value: unknown): Promise<void> {
  const h = withName(handle(remote, 'set'), name)
  await (h.host.op('set', h, [value]) as PromiseLike<unknown>)
}

/** Deletes a property (needs `allowDelete` on the peer); resolves with delete's result. */
export async function del(remote: unknown, name: string | number): Promise<boolean> {
  const h = withName(handle(remote, 'del'), name)
  return (await (h.host.op('del', h) as PromiseLike<unknown>)) as boolean
}

/** Whether the remote object has a property the policy lets this side see (`name in obj`). */
export async function has(remote: unknown, name: string | number): Promise<boolean> {
  const h = withName(handle(remote, 'has'), name)
  return (await (h.host.op('has', h) as PromiseLike<unknown>)) as boolean
}

/** The names the remote object shows: own enumerable keys and inherited methods (RPyC dir()). */
export async function keys(remote: unknown): Promise<string[]> {
  const h = handle(remote, 'keys')
  return (await (h.host.op('keys', h) as PromiseLike<unknown>)) as string[]
}

/**
 * Lets go of a Remote now instead of at garbage collection: the peer drops its reference once
 * every copy is released. Later operations on it reject with ReferenceError. Idempotent.
 */
export function release(remote: unknown): void {
  const h = handle(remote, 'release')
  if (h.path.length > 0) throw new TypeError('release() needs a Remote or a RemotePromise, not a member read from one (r.x shares r)')
  h.host.release(h)
}

/**
 * A by-value copy of the remote object (RPyC obtain): plain data, class instances as plain objects.
 * Rejects with TypeError if it holds a function or a promise.
 */
export async function obtain<T>(remote: Remote<T> | RemotePromise<T>): Promise<Settled<T>> {
  const h = handle(remote, 'obtain')
  return (await (h.host.op('obtain', h) as PromiseLike<unknown>)) as Settled<T>
}

/** Sends `value` by value and resolves to a Remote of the copy the peer now holds. */
export async function deliver<T>(conn: Connection, value: T): Promise<Remote<T>> {
  const h = handle(conn.root, 'deliver')
  return (await (h.host.op('hold', h, [value]) as PromiseLike<unknown>)) as Remote<T>
}

/**
 * Iterates a remote iterable in chunks (RPyC buffiter): the first round trip brings `chunk` items
 * (default 2), each next one `factor` (2) times more, up to `max` (1000). Breaking out of the loop
 * calls the remote iterator's return(). `for await (x of remote)` uses the defaults. Throws
 * TypeError for an unknown option (naming the nearest), RangeError for a bad value.
 */
export function buffiter<T = unknown>(remote: unknown, options?: IterOptions): AsyncIterableIterator<Settled<T>> {
  const h = handle(remote, 'buffiter')
  if (options !== undefined) {
    if (options === null || typeof options !== 'object') throw new TypeError('buffiter() options must be { chunk?, max?, factor? }')
    for (const k of Object.keys(options)) if (!ITER_KEYS.includes(k)) throw unknownOption('buffiter option', k, ITER_KEYS)
  }
  return bufferedIterator(h.host, h, options) as AsyncIterableIterator<Settled<T>>
}

/**
 * A view of `remote` whose operations, and those pipelined on their results, carry `options`:
 * `timeout` (ms) rejects an operation with TimeoutError once it has run that long, `signal`
 * rejects it with AbortError when aborted (at once, without sending, if it is aborted already);
 * either way the peer is told to cancel it and sees that through `currentCall().signal`. Options
 * given here override those of a view it is made from and the connection's `timeout`. The view
 * is another proxy of the same remote object; `remote` itself is unchanged. Throws TypeError for
 * bad options.
 */
export function withOptions<T>(remote: T, options: CallOptions): T {
  const h = handle(remote, 'withOptions')
  if (options === null || typeof options !== 'object') throw new TypeError('withOptions() needs { timeout?, signal? }')
  for (const k of Object.keys(options)) if (k !== 'timeout' && k !== 'signal') throw unknownOption('call option', k, ['timeout', 'signal'])
  const { timeout, signal } = options
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0) || timeout > 2 ** 31 - 1)) {
    throw new TypeError('withOptions() timeout must be a number of ms between 1 and 2147483647')
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new TypeError('withOptions() signal must be an AbortSignal')
  const opts: CallOptions = { ...h.opts }
  if (timeout !== undefined) opts.timeout = timeout
  if (signal !== undefined) opts.signal = signal
  // the view keeps the original alive, so the original is not released while the view is in use
  return makeProxy({ host: h.host, base: h.base, path: h.path, result: h.result, tracker: h.tracker, owner: h.owner ?? (remote as object), opts }) as T
}
