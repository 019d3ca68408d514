// farside's rows: over a worker thread (worker()/serveParent(), by its port or by shared memory)
// and within one thread (pair()),
// both serving fixtures/service.mjs.
import { pair, release, worker, type Connection, type Remote } from 'farside'
import { createService, type Service } from '../fixtures/service.mjs'
import { fixture, type Contender, type Session } from './contender.ts'

/** The worker's root: the service plus the probes farside-worker.mjs adds for the memory run. */
export interface WorkerService extends Service {
  stats(): ReturnType<Connection['stats']>
  heap(): Promise<number>
  /** The worker thread's Linux thread id, for pinning it (undefined elsewhere). */
  tid(): number | undefined
}

/** A farside session keeps its connection and typed root for the scenarios that need more. */
export interface FarsideSession extends Session {
  conn: Connection
  root: Remote<Service>
}

/** The scenarios' calls on a farside connection whose root serves fixtures/service.mjs. */
export function session(conn: Connection, close: () => Promise<void>): FarsideSession {
  const root = conn.root as Remote<Service>
  return {
    conn,
    root,
    add: (a, b) => root.add(a, b),
    // three operations in one batch; only the last result crosses back
    chain: () => root.makeNode(1).child(0).value,
    async steps() {
      const node = await root.makeNode(1)
      const child = await node.child(0)
      const value = await child.value
      // release by hand rather than leave two exports per call to the collector
      release(node)
      release(child)
      return value
    },
    // a fresh closure per call, as user code writes it; it crosses by reference
    callback: () => root.run((x: number) => x),
    // by value both ways: no transfer(), so every transport copies the bytes
    echo: (bytes) => root.echo(bytes),
    close,
  }
}

export const farsideWorker: Contender<FarsideSession> = {
  name: 'farside',
  async start() {
    const conn = await worker(fixture('farside-worker.mjs'))
    return session(conn, () => conn.close())
  },
}

/** farside over shared memory: the same worker file, worker(url, { sharedMemory: true }). */
export const farsideSharedWorker: Contender<FarsideSession> = {
  name: 'farside (shared memory)',
  async start() {
    const conn = await worker(fixture('farside-worker.mjs'), { sharedMemory: true })
    return session(conn, () => conn.close())
  },
}

export const farsidePair: Contender<FarsideSession> = {
  name: 'farside',
  async start() {
    const [a, b] = pair({}, { root: createService() })
    await a.ready
    return session(a, async () => {
      await a.close()
      await b.close()
    })
  },
}
