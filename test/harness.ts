// Test harness: the transports the conformance suite runs over, and small assertion helpers.
// Every transport entry starts a peer serving the conformance Service and returns the client end.
import { serialize } from 'node:v8'
import * as assert from 'uvu/assert'
import { suite } from 'uvu'
import { fileURLToPath } from 'node:url'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, connectPort, fork, listen, pair, spawn, worker, type Connection, type Remote, type ListenOptions, type NetOptions, type Address } from '../src/index.ts'
import { AUTH_ENV, Service, serverAuthOptions, setUp, type ServerAuth } from './fixtures/service.ts'

export const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url)

/** Starts a worker running a TypeScript fixture (through the tsx bootstrap). */
export function tsWorker<T = Service>(entry: string, options: Parameters<typeof worker>[1] = {}) {
  return worker<T>(fixture('boot.mjs'), { ...options, workerData: { ...(options.workerData as object), entry: fixture(entry).href } })
}

/** Node flags that let a child process load TypeScript fixtures. */
export const TS_EXEC_ARGV = ['--import', 'tsx']

/** Forks a TypeScript fixture. */
export function tsFork<T = Service>(entry: string, args: string[] = [], options: Parameters<typeof fork>[2] = {}) {
  return fork<T>(fileURLToPath(fixture(entry)), args, { execArgv: TS_EXEC_ARGV, ...options })
}

/** Spawns `node` on a TypeScript fixture, speaking farside over stdio. */
export function tsSpawn<T = Service>(entry: string, args: string[] = [], options: Omit<Parameters<typeof spawn>[2], 'stdio'> = {}) {
  return spawn<T>(process.execPath, [...TS_EXEC_ARGV, fileURLToPath(fixture(entry)), ...args], { ...options, stdio: 'protocol' })
}

let certs: Promise<{ key: string; cert: string }> | undefined
/** A self-signed certificate for localhost, made once per test run. */
export function testCert(): Promise<{ key: string; cert: string }> {
  certs ??= (async () => {
    const { generate } = await import('selfsigned')
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      days: 1,
      keySize: 2048,
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    } as never)
    return { key: pems.private, cert: pems.cert }
  })()
  return certs
}

let socketCount = 0
let channelCount = 0
/** A fresh Unix socket path for a test server. */
export const socketPath = () => join(tmpdir(), `farside-test-${process.pid}-${++socketCount}.sock`)

/**
 * Authentication for both ends (auth.test.ts): every transport's start() takes it. The serving
 * side gets `server` (listen()'s own options over sockets; connection options, as JSON for a
 * child, elsewhere); `served` sees the serving side's connection where it lives in this process.
 */
export interface AuthSetup {
  client?: { secret?: string | Uint8Array; user?: string }
  server?: ServerAuth
  served?: (conn: Connection) => void
}

/** Serves a fresh Service over a server; resolves with the client end. */
async function serveOverNet(address: Address, serverOptions: ListenOptions = {}, clientOptions: NetOptions = {}, auth: AuthSetup = {}): Promise<Peer> {
  const svc = new Service()
  const server = await listen(address, { root: svc, stacks: true, ...serverOptions, ...auth.server })
  const served: Connection[] = []
  server.on('connection', (c: Connection) => {
    setUp(svc, c)
    served.push(c)
    auth.served?.(c)
  })
  let conn: Connection<Service>
  try {
    conn = await connect<Service>(server.address as Address, { ...clientOptions, ...auth.client })
  } catch (err) {
    // a failed handshake fails the serving side too: let it, rather than close it first
    await settled(served.map((c) => c.closed))
    await server.close()
    throw err
  }
  return {
    conn,
    close: async () => {
      await conn.close()
      await server.close()
    },
  }
}

export interface Peer {
  /** The client end; its root is a Remote of the Service. */
  conn: Connection<Service>
  /** Closes everything the transport started. */
  close(): Promise<void>
}

export interface TransportCase {
  name: string
  /** What `conn.transport` says for it. */
  kind: string
  /** Whether the peer runs in another thread or process (so it can exit or be killed). */
  remote: boolean
  /** Starts a peer; rejects (having closed what it started) if the handshake fails. */
  start(auth?: AuthSetup): Promise<Peer>
}

/** The env of a child peer that authenticates as `server` says. */
const childEnv = (auth: AuthSetup) => (auth.server === undefined ? {} : { env: { ...process.env, [AUTH_ENV]: JSON.stringify(auth.server) } })

/** Waits for both in-process ends' handshake; on failure closes both and rethrows. */
async function bothReady(client: Connection<Service>, server: Connection): Promise<Peer> {
  try {
    await client.ready
  } catch (err) {
    // a failed handshake fails the serving side too: let it, rather than close it first
    await settled([server.closed])
    await Promise.all([client.close(), server.close()])
    throw err
  }
  return { conn: client, close: async () => { await client.close(); await server.close() } }
}

export const transports: TransportCase[] = [
  {
    name: 'pair',
    kind: 'pair',
    remote: false,
    async start(auth = {}) {
      const svc = new Service()
      const [client, server] = pair({ ...auth.client }, { root: svc, ...serverAuthOptions(auth.server) })
      setUp(svc, server)
      auth.served?.(server)
      await bothReady(client, server)
      return { conn: client, close: () => client.close() }
    },
  },
  {
    // web-style endpoints: two BroadcastChannels of a name no other test uses (a name carries one pair)
    name: 'broadcast-channel',
    kind: 'port',
    remote: false,
    async start(auth = {}) {
      const name = `farside-test-${process.pid}-${++channelCount}`
      const svc = new Service()
      // both channels open before either connects: a channel drops what is sent while no peer listens
      const [mine, theirs] = [new BroadcastChannel(name), new BroadcastChannel(name)]
      const client = connectPort<Service>(mine, { ...auth.client })
      const server = connectPort(theirs, { root: svc, ...serverAuthOptions(auth.server) })
      setUp(svc, server)
      auth.served?.(server)
      // the client's goodbye closes the server too; closing both keeps a lost goodbye from leaving a channel open
      return bothReady(client, server)
    },
  },
  {
    name: 'worker',
    kind: 'worker',
    remote: true,
    async start(auth = {}) {
      const conn = await tsWorker('service-peer.ts', { ...auth.client, ...childEnv(auth) })
      return { conn, close: () => conn.close() }
    },
  },
  {
    name: 'worker (shared memory)',
    kind: 'shared-memory',
    remote: true,
    async start(auth = {}) {
      const conn = await tsWorker('service-peer.ts', { ...auth.client, ...childEnv(auth), sharedMemory: true })
      return { conn, close: () => conn.close() }
    },
  },
  {
    name: 'fork',
    kind: 'fork',
    remote: true,
    async start(auth = {}) {
      const conn = await tsFork('service-peer.ts', [], { ...auth.client, ...childEnv(auth) })
      return { conn, close: () => conn.close() }
    },
  },
  {
    name: 'spawn-stdio',
    kind: 'spawn',
    remote: true,
    async start(auth = {}) {
      const conn = await tsSpawn('service-peer.ts', [], { ...auth.client, ...childEnv(auth) })
      return { conn, close: () => conn.close() }
    },
  },
  {
    name: 'tcp',
    kind: 'tcp',
    remote: false,
    start: (auth) => serveOverNet({ host: '127.0.0.1', port: 0 }, {}, {}, auth),
  },
  {
    name: 'unix',
    kind: 'unix',
    remote: false,
    start: (auth) => serveOverNet({ path: socketPath() }, {}, {}, auth),
  },
  {
    name: 'tls',
    kind: 'tls',
    remote: false,
    async start(auth) {
      const { key, cert } = await testCert()
      return serveOverNet({ host: '127.0.0.1', port: 0 }, { tls: { key, cert } }, { tls: { ca: cert, servername: 'localhost' } }, auth)
    },
  },
]

/** What a suite over one transport gives each test: the peer, its connection and root. */
export interface PeerContext {
  peer: Peer
  conn: Connection<Service>
  root: Remote<Service>
}

/** A uvu suite named `name/<transport>` that starts the transport's peer before its tests and closes it after. */
export function peerSuite(name: string, transport: TransportCase) {
  const t = suite<PeerContext>(`${name}/${transport.name}`)
  t.before(async (ctx) => {
    ctx.peer = await within(transport.start(), 20000, `starting ${transport.name}`)
    ctx.conn = ctx.peer.conn
    ctx.root = ctx.conn.root
  })
  t.after(async (ctx) => {
    await ctx.peer?.close()
  })
  return t
}

/** Waits (up to 5 s) for `promises` to settle; a hang guard for cleanup, not a check. */
async function settled(promises: PromiseLike<unknown>[]): Promise<void> {
  await within(Promise.allSettled(promises), 5000, 'the serving side closing').catch(() => {})
}

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

/** One length-prefixed v8 frame, as farside's stream transport writes it. */
export function frame(message: unknown): Buffer {
  const body = serialize(message)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  return Buffer.concat([head, body])
}
