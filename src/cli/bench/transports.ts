// The transports `farside bench` measures, as a table: each entry says how to start farside over
// it and its own raw ping-pong (and the peers where they ride the same channel). A transport
// added to farside is one more entry here.
import * as cp from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MessageChannel } from 'node:worker_threads'
import { fork, pair, spawn, transfer, worker, type Connection, type WorkerConnectOptions } from '../../index.ts'
import { selfSignedCertificate } from './cert.ts'
import { PEERS, loadPeer, peerSession } from './peers.ts'
import { farsideSession, once, rawMessageSession, rawStreamSession, service, type Session } from './pingpong.ts'
import { startSocketHost, type SocketHost, type SocketKind } from './sockets.ts'

/** One row of a transport: farside, its raw ping-pong, or a peer library. */
export interface Row {
  name: string
  kind: 'farside' | 'raw' | 'peer'
  start(): Promise<Session>
}

export interface TransportCase {
  id: string
  /** What it is, for the tables: e.g. "worker thread (MessagePort)". */
  channel: string
  /** farside's row first, then the raw ping-pong; peers after. Rejects (with why) where the transport is not available. */
  rows(ctx: BenchContext): Promise<Row[]>
}

/** What the cases share in one run: the far sides' entry files and the one socket host. */
export class BenchContext {
  readonly notes: string[] = []
  #sockets: Promise<SocketHost> | undefined

  /** The socket host, started on first use (with TLS when a certificate can be made here). */
  sockets(): Promise<SocketHost> {
    return (this.#sockets ??= (async () => {
      let certificate: { key: string; cert: string } | undefined
      try {
        certificate = selfSignedCertificate()
      } catch (err) {
        this.notes.push(`TLS skipped: no certificate could be made with node:crypto here (${(err as Error).message})`)
      }
      return startSocketHost(childEntry, certificate)
    })())
  }

  /** Stops what the cases started. Idempotent. */
  async close(): Promise<void> {
    const host = await this.#sockets?.catch(() => undefined)
    await host?.stop()
  }
}

/**
 * The far sides' entry files: rollup inputs of their own beside the bundle (dist/). Run from the
 * sources (tsx), the built ones are used: worker threads and children get no TypeScript loader.
 */
function entry(name: string): URL {
  return import.meta.url.endsWith('.ts') ? new URL(`../../../dist/${name}`, import.meta.url) : new URL(`./${name}`, import.meta.url)
}
const workerEntry = entry('bench-worker.js')
const childEntry = fileURLToPath(entry('bench-child.js'))

const farside = (start: () => Promise<Session>): Row => ({ name: 'farside', kind: 'farside', start })
const raw = (name: string, start: () => Promise<Session>): Row => ({ name, kind: 'raw', start })

/**
 * The worker rows: farside's worker, and the raw ping-pong and the peers served by that same
 * thread on MessagePorts of their own (worker-entry.ts's host()). A round trip to a thread on a
 * 2-core machine comes in two speeds by how the OS places the threads, and a thread keeps its
 * mode for a while: rows served by one thread share that luck, rows of different threads do not.
 */
async function workerRows(ctx: BenchContext, start: () => Promise<Connection>, peers: boolean): Promise<Row[]> {
  let conn: Promise<Connection> | undefined
  const shared = () => (conn ??= start())
  const hosted = async (lib: string) => {
    const { port1, port2 } = new MessageChannel()
    await (shared().then((c) => (c.root as unknown as Hosting).host(lib, transfer(port2, [port2]))))
    return port1
  }
  const rows: Row[] = [
    farside(async () => farsideSession(await shared())),
    raw('raw postMessage', async () => {
      const port = await hosted('raw')
      return rawMessageSession(port, (m) => port.postMessage(m), async () => {
        port.close()
      })
    }),
  ]
  if (!peers) return rows
  const missing: string[] = []
  for (const name of PEERS) {
    if (!(await loadPeer(name).then(() => true, () => false))) missing.push(name)
    else rows.push({ name, kind: 'peer', start: async () => peerSession(name, await hosted(name)) })
  }
  if (missing.length > 0) ctx.notes.push(`peers not installed, left out: ${missing.join(', ')} (npm install them beside farside to compare)`)
  return rows
}

interface Hosting {
  host(lib: string, port: unknown): Promise<void>
}

const socketCase = (id: SocketKind, channel: string): TransportCase => ({
  id,
  channel,
  async rows(ctx) {
    const host = await ctx.sockets()
    if (!host.kinds.includes(id)) throw new Error('no certificate for TLS (see the note above)')
    return [farside(() => host.farside(id)), raw(`raw ${id === 'unix' ? 'Unix' : id.toUpperCase()} socket`, () => host.raw(id))]
  },
})

/** Every transport, in the order the tables show them. */
export const TRANSPORTS: TransportCase[] = [
  {
    id: 'pair',
    channel: 'MessageChannel within one thread',
    async rows() {
      return [
        farside(async () => {
          const [a, b] = pair({}, { root: service() })
          await a.ready
          const session = farsideSession(a)
          return { ...session, close: once(async () => {
            await session.close()
            await b.close()
          }) }
        }),
        raw('raw MessageChannel', async () => {
          const { port1, port2 } = new MessageChannel()
          port2.on('message', (m: unknown[]) => port2.postMessage(m.length === 3 ? [m[0], (m[1] as number) + (m[2] as number)] : m))
          return rawMessageSession(port1, (m) => port1.postMessage(m), async () => {
            port1.close()
          })
        }),
      ]
    },
  },
  {
    id: 'worker',
    channel: 'worker thread (MessagePort)',
    rows: (ctx) => workerRows(ctx, () => worker(workerEntry), true),
  },
  {
    id: 'worker-shm',
    channel: 'worker thread (shared memory)',
    async rows(ctx) {
      // the option exists only in a farside that has the shared-memory transport: an unknown
      // option is a TypeError before any thread starts, which says this farside lacks it
      const options = { sharedMemory: true } as WorkerConnectOptions
      const probe = await worker(workerEntry, options).catch((err: Error) => err)
      if (probe instanceof TypeError) throw new Error('this farside has no shared-memory worker transport')
      if (probe instanceof Error) throw probe
      return workerRows(ctx, async () => probe, false)
    },
  },
  {
    id: 'fork',
    channel: 'child process (IPC)',
    async rows() {
      return [
        farside(async () => farsideSession(await fork(childEntry, ['farside']))),
        raw('raw IPC', async () => {
          const child = cp.fork(childEntry, ['raw-ipc'], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
          const exited = exitOf(child)
          return rawMessageSession(child, (m) => child.send(m), async () => {
            if (child.connected) child.disconnect()
            await exited
          })
        }),
      ]
    },
  },
  {
    id: 'spawn',
    channel: 'child process (stdin/stdout)',
    async rows() {
      return [
        farside(async () => farsideSession(await spawn(process.execPath, [childEntry, 'farside'], { stdio: 'protocol' }))),
        raw('raw stdio', async () => {
          const child = cp.spawn(process.execPath, [childEntry, 'raw-stdio'], { stdio: ['pipe', 'pipe', 'inherit'] })
          const exited = exitOf(child)
          return rawStreamSession(child.stdout!, child.stdin!, async () => {
            child.stdin!.end()
            await exited
          })
        }),
      ]
    },
  },
  socketCase('tcp', 'TCP socket (127.0.0.1)'),
  socketCase('unix', 'Unix socket'),
  socketCase('tls', 'TLS over TCP (127.0.0.1)'),
]

function exitOf(child: cp.ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}
