// The transports `farside bench` measures, as a table: each entry says how to start farside over
// it and its own raw ping-pong (and the peers where they ride the same channel). A transport
// added to farside is one more entry here.
import * as cp from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { MessageChannel, Worker } from 'node:worker_threads'
import { fork, pair, spawn, worker, type WorkerConnectOptions } from '../../index.ts'
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

/** A plain Worker answering the raw ping-pong on its own port: the channel worker() rides on. */
const rawWorker = raw('raw postMessage', async () => {
  const w = new Worker(workerEntry, { workerData: { mode: 'raw' } })
  return rawMessageSession(w, (m) => w.postMessage(m), async () => {
    await w.terminate()
  })
})

/** The peers that load here, each in a worker of its own on a MessageChannel port. */
async function peerRows(ctx: BenchContext): Promise<Row[]> {
  const rows: Row[] = []
  const missing: string[] = []
  for (const name of PEERS) {
    const loads = await loadPeer(name).then(() => true, () => false)
    if (!loads) {
      missing.push(name)
      continue
    }
    rows.push({
      name,
      kind: 'peer',
      async start() {
        const { port1, port2 } = new MessageChannel()
        const w = new Worker(workerEntry, { workerData: { mode: 'peer', lib: name, port: port2 }, transferList: [port2] })
        return peerSession(name, port1, async () => {
          await w.terminate()
        })
      },
    })
  }
  if (missing.length > 0) ctx.notes.push(`peers not installed, left out: ${missing.join(', ')} (npm install them beside farside to compare)`)
  return rows
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
    channel: 'worker thread (postMessage)',
    async rows(ctx) {
      return [farside(async () => farsideSession(await worker(workerEntry, { workerData: { mode: 'farside' } }))), rawWorker, ...(await peerRows(ctx))]
    },
  },
  {
    id: 'worker-shm',
    channel: 'worker thread (shared memory)',
    async rows() {
      // the option exists only in a farside that has the shared-memory transport: an unknown
      // option is a TypeError before any thread starts, which says this farside lacks it
      const options = { sharedMemory: true, workerData: { mode: 'farside' } } as WorkerConnectOptions
      const probe = await worker(workerEntry, options).catch((err: Error) => err)
      if (probe instanceof TypeError) throw new Error('this farside has no shared-memory worker transport')
      if (probe instanceof Error) throw probe
      await probe.close()
      return [farside(async () => farsideSession(await worker(workerEntry, options))), rawWorker]
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
