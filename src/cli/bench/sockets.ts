// The socket rows (TCP, Unix, TLS): one host child process serves farside's listen() and the raw
// ping-pong servers on all three (serveSockets, in the child), and the clients here connect to it,
// so client and server are two processes as in a deployment and every socket row shares one server.
import * as cp from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { connect, listen, type Address } from '../../index.ts'
import { farsideSession, rawStreamSession, serveFrames, service, type Session } from './pingpong.ts'

export type SocketKind = 'tcp' | 'unix' | 'tls'
type Addresses = Partial<Record<SocketKind, { farside: Address; raw: Address }>>
interface Setup {
  dir: string
  tls?: { key: string; cert: string }
}

/** The socket host: serves every kind until the parent's second message (or its disappearance). */
export function serveSockets(): void {
  const stops: (() => Promise<void>)[] = []
  // a parent that died without asking must not leave the servers listening
  process.once('disconnect', () => setTimeout(() => process.exit(0), 2000).unref())
  process.once('message', (setup: Setup) => {
    start(setup, stops).catch((err: Error) => {
      // the parent sees the exit and names it
      process.stderr.write(`farside bench socket host: ${err.stack ?? err.message}\n`)
      process.exit(1)
    })
  })
}

async function start(setup: Setup, stops: (() => Promise<void>)[]): Promise<void> {
  const tcp = { host: '127.0.0.1', port: 0 }
  const serve = async (address: Address, tlsOptions?: Setup['tls']) => {
    const server = await listen(address, { root: service(), ...(tlsOptions ? { tls: tlsOptions } : {}) })
    stops.push(() => server.close())
    return { farside: server.address, raw: await rawServer(address, stops, tlsOptions) }
  }
  const addresses: Addresses = { tcp: await serve(tcp), unix: await serve({ path: join(setup.dir, 'farside.sock') }) }
  if (setup.tls) addresses.tls = await serve(tcp, setup.tls)
  process.send!({ addresses })
  // the parent's one other message: stop everything and let the process end by itself
  process.once('message', () => {
    void Promise.all(stops.map((stop) => stop().catch(() => {}))).then(() => process.disconnect())
  })
}

/** A hand-written server: one frame per message each way, the socket options listen() sets. */
async function rawServer(address: Address, stops: (() => Promise<void>)[], tlsOptions?: Setup['tls']): Promise<Address> {
  const sockets = new Set<net.Socket>()
  const onSocket = (socket: net.Socket) => {
    if (!('path' in address)) socket.setNoDelay(true)
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    serveFrames(socket, socket)
  }
  const server = tlsOptions ? tls.createServer(tlsOptions, onSocket) : net.createServer(onSocket)
  const where = 'path' in address ? { path: `${address.path}.raw` } : { host: address.host, port: 0 }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(where, resolve)
  })
  stops.push(() => new Promise((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  const a = server.address()!
  return typeof a === 'string' ? { path: a } : { host: a.address, port: a.port }
}

/** The parent's handle on the socket host. */
export interface SocketHost {
  /** The kinds served: TLS only when a certificate was given. */
  readonly kinds: SocketKind[]
  farside(kind: SocketKind): Promise<Session>
  raw(kind: SocketKind): Promise<Session>
  /** Stops the servers and the host process, removes the socket folder. Idempotent. */
  stop(): Promise<void>
}

/**
 * Starts the socket host (`entry` is the bench's child entry) and resolves once it listens.
 * With `certificate`, TLS is served too. Rejects if the host exits or is silent for 10 s.
 */
export async function startSocketHost(entry: string, certificate?: { key: string; cert: string }): Promise<SocketHost> {
  const dir = await mkdtemp(join(tmpdir(), 'farside-bench-'))
  const child = cp.fork(entry, ['sockets'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let timer: NodeJS.Timeout | undefined
  const addresses = await new Promise<Addresses>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error('the socket host did not start within 10 s')), 10_000)
    child.once('message', (m) => resolve((m as { addresses: Addresses }).addresses))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`the socket host exited (code ${code})`)))
    child.send({ dir, ...(certificate ? { tls: certificate } : {}) } satisfies Setup)
  }).finally(() => clearTimeout(timer)).catch(async (err) => {
    child.kill()
    await rm(dir, { recursive: true, force: true })
    throw err
  })
  const clientTls = certificate ? { ca: certificate.cert, servername: 'localhost' } : undefined
  let stopped: Promise<void> | undefined
  return {
    kinds: Object.keys(addresses) as SocketKind[],
    async farside(kind) {
      return farsideSession(await connect(addresses[kind]!.farside, kind === 'tls' ? { tls: clientTls! } : {}))
    },
    raw: (kind) => rawClient(addresses[kind]!.raw, kind === 'tls' ? clientTls : undefined),
    stop: () => (stopped ??= (async () => {
      if (child.connected) child.send('stop')
      const late = setTimeout(() => child.kill(), 5000)
      await exited
      clearTimeout(late)
      await rm(dir, { recursive: true, force: true })
    })()),
  }
}

/** A hand-written client with the socket options farside's connect() sets (no Nagle on TCP). */
async function rawClient(address: Address, tlsOptions: tls.ConnectionOptions | undefined): Promise<Session> {
  const where = 'path' in address ? { path: address.path } : { host: address.host ?? '127.0.0.1', port: address.port }
  const socket: net.Socket = tlsOptions ? tls.connect({ ...tlsOptions, ...where }) : net.connect(where)
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject)
      resolve()
    })
  })
  if (!('path' in address)) socket.setNoDelay(true)
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
  return rawStreamSession(socket, socket, async () => {
    socket.end()
    await closed
  })
}
