// Test harness: the transports the conformance suite runs over, and small assertion helpers.
// Every transport entry starts a peer serving the conformance Service and returns the client end.
import * as assert from 'uvu/assert'
import { pair, worker, type Connection } from '../src/index.ts'
import { Service, setUp } from './fixtures/service.ts'

export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url)

/** Starts a worker running a TypeScript fixture (through the tsx bootstrap). */
export function tsWorker(entry: string, options: Parameters<typeof worker>[1] = {}) {
  return worker(fixture('boot.mjs'), { ...options, workerData: { ...(options.workerData as object), entry: fixture(entry).href } })
}

export interface Peer {
  /** The client end; its root is a Remote of the Service. */
  conn: Connection
  /** Closes everything the transport started. */
  close(): Promise<void>
}

export interface TransportCase {
  name: string
  /** Whether the peer runs in another thread or process (so it can exit or be killed). */
  remote: boolean
  start(): Promise<Peer>
}

export const transports: TransportCase[] = [
  {
    name: 'pair',
    remote: false,
    async start() {
      const svc = new Service()
      const [client, server] = pair({}, { root: svc })
      setUp(svc, server)
      await client.ready
      return { conn: client, close: () => client.close() }
    },
  },
  {
    name: 'worker',
    remote: true,
    async start() {
      const conn = await tsWorker('service-worker.ts')
      return { conn, close: () => conn.close() }
    },
  },
]

/** Rejects if `p` has not settled after `ms` (a guard against hangs, not a speed check). */
export async function within<T>(p: PromiseLike<T>, ms = 5000, what = 'operation'): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Asserts that `p` rejects with an instance of `cls`; returns the error for further checks. */
export async function rejects<E extends Error>(p: PromiseLike<unknown>, cls: abstract new (...a: any[]) => E, what = 'operation'): Promise<E> {
  try {
    await within(p, 5000, what)
  } catch (err) {
    if (!(err instanceof cls)) throw new assert.Assertion({ message: `${what}: expected ${cls.name}, got ${String(err)}`, actual: err, expects: cls.name, operator: 'rejects' })
    return err
  }
  throw new assert.Assertion({ message: `${what}: expected a rejection with ${cls.name}, it resolved`, operator: 'rejects', expects: cls.name, actual: 'resolved' })
}

/** Runs GC a few times with pauses, so FinalizationRegistry callbacks run and releases flow. */
export async function collect(rounds = 4): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run the tests with --expose-gc')
  for (let i = 0; i < rounds; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
}
