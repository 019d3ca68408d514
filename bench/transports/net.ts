// Socket rows: farside's connect() to listen() over TCP, a Unix socket and TLS, each against
// hand-written clients of raw servers (one frame per message: node:v8, and for TCP and Unix also
// JSON). Every server, farside's and the raw ones, runs in one child process (fixtures/
// net-host.mjs) pinned to the server CPU (placement.ts), so client and server sit on different
// cores as in a deployment and all rows share one server thread.
import * as cp from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as tls from 'node:tls'
import { connect, type Address, type NetOptions } from 'farside'
import { fixture, type Contender } from '../contenders/contender.ts'
import { session, type FarsideSession } from '../contenders/farside.ts'
import { deadline } from '../lib/measure.ts'
import { jsonCodec, v8Codec, type Codec } from './frames.mjs'
import { pinServer } from './placement.ts'
import { rawStreamSession } from './raw-stream.ts'

type Kind = 'tcp' | 'unix' | 'tls'
const LABEL: Record<Kind, string> = { tcp: 'TCP', unix: 'Unix', tls: 'TLS' }
interface Addresses {
  tcp: { farside: Address; v8: Address; json: Address }
  unix: { farside: Address; v8: Address; json: Address }
  tls: { farside: Address; v8: Address }
}

export interface NetHost {
  /** The rows of one transport: farside first, then the raw baselines. */
  contenders(kind: Kind): Contender[]
  /** Stops every server and the host process, and removes the socket directory. */
  stop(): Promise<void>
}

/** A self-signed certificate for localhost and 127.0.0.1 (generated once per run, about a second). */
async function certificate(): Promise<{ key: string; cert: string }> {
  const { generate } = await import('selfsigned')
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    notAfterDate: new Date(Date.now() + 24 * 3600 * 1000),
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  })
  return { key: pems.private, cert: pems.cert }
}

export async function startNetHost(): Promise<NetHost> {
  const dir = await mkdtemp(join(tmpdir(), 'farside-bench-'))
  const { key, cert } = await certificate()
  // a plain child process (not farside's fork): its IPC channel carries only set-up and stop
  const child = cp.fork(fixture('net-host.mjs'), [], { stdio: ['inherit', 'inherit', 'inherit', 'ipc'], execArgv: [] })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  pinServer(child.pid!)
  const addresses = await deadline('net host start', 10_000, () => new Promise<Addresses>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { addresses: Addresses }).addresses))
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`net host exited (${code})`)))
    child.send({ dir, key, cert })
  }))
  const clientTls = { ca: cert, servername: 'localhost' }
  return {
    contenders(kind) {
      const label = LABEL[kind]
      const secure = kind === 'tls' ? clientTls : undefined
      const a: { farside: Address; v8: Address; json?: Address } = addresses[kind]
      const rows = [farsideNet(a.farside, secure), rawNet(`raw ${label} v8`, a.v8, v8Codec, secure)]
      if (a.json !== undefined) rows.push(rawNet(`raw ${label} JSON`, a.json, jsonCodec, undefined))
      return rows
    },
    async stop() {
      if (child.connected) child.send('stop')
      await deadline('net host stop', 10_000, () => exited)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function farsideNet(address: Address, tlsOptions: tls.ConnectionOptions | undefined): Contender<FarsideSession> {
  return {
    name: 'farside',
    async start() {
      const conn = await connect(address, tlsOptions !== undefined ? { tls: tlsOptions as NetOptions['tls'] } : {})
      return session(conn, () => conn.close())
    },
  }
}

/** A hand-written client with the socket options farside's connect() sets (no Nagle on plain TCP). */
function rawNet(name: string, address: Address, codec: Codec, tlsOptions: tls.ConnectionOptions | undefined): Contender {
  return {
    name,
    async start() {
      const where = 'path' in address ? { path: address.path } : { host: address.host ?? '127.0.0.1', port: address.port }
      const socket: net.Socket = tlsOptions !== undefined ? tls.connect({ ...tlsOptions, ...where }) : net.connect(where)
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        socket.once(tlsOptions !== undefined ? 'secureConnect' : 'connect', () => {
          socket.off('error', reject)
          resolve()
        })
      })
      // the raw client sets what farside's connect() sets: no Nagle on TCP and TLS
      if (!('path' in address)) socket.setNoDelay(true)
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
      return rawStreamSession(socket, socket, codec, async () => {
        socket.end()
        await closed
      })
    },
  }
}
