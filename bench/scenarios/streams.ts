// Streams and iteration: 1,000,000 numbers held by a worker (a round trip per item, buffered
// for await, one obtain); 256 MiB from the far side through a remote Readable on every transport
// against the same bytes piped over the raw transport by hand; a small call during a bulk stream.
import * as cp from 'node:child_process'
import { Worker } from 'node:worker_threads'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as net from 'node:net'
import * as tls from 'node:tls'
import type { Readable } from 'node:stream'
import { connect, fork, obtain, spawn, worker, type Connection } from 'farside'
import { fixture } from '../contenders/contender.ts'
import { frameReader, v8Codec, writeFrame } from '../transports/frames.mjs'
import { median, progress } from '../lib/measure.ts'
import { pinClient, pinnedChild, pinServer, pinThreads, placementNote } from '../transports/placement.ts'
import { mib, times, type Table, type Target } from '../lib/report.ts'

const MiB = 2 ** 20
/** farside's default limits.streamWindow, for the table's labels. */
const DEFAULT_WINDOW = MiB
const peerPath = fileURLToPath(fixture('stream-peer.mjs'))
/** A fresh socket path per far side: a round's server may still hold the last one's. */
let sockets = 0

export interface StreamSizes {
  /** Bytes per transport, and the chunk size (a file read stream's default is 64 KiB). */
  total: number
  chunk: number
  /** Items of the 1M array read one round trip each (the rest is extrapolated). */
  sampled: number
  /** Rounds per transport, each timing raw and farside once, in alternating order. */
  rounds: number
}

/** TLS: the key and certificate files the far side reads, the certificate the client trusts. */
interface Certs {
  keyFile: string
  certFile: string
  cert: string
}

interface Far {
  conn: Connection
  close(): Promise<void>
}

/** Peak RSS of this process while `fn` runs, sampled every 20 ms. */
async function withPeak<T>(fn: () => Promise<T>): Promise<{ value: T; peak: number; base: number }> {
  const base = process.memoryUsage().rss
  let peak = base
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
  try {
    const value = await fn()
    return { value, peak: Math.max(peak, process.memoryUsage().rss), base }
  } finally {
    clearInterval(timer)
  }
}

async function farsideRun(far: Far, s: StreamSizes) {
  const root = far.conn.root as any
  const base = (await root.peak(true)) as number
  const r = await withPeak(async () => {
    const start = performance.now()
    const stream = (await root.bytes(s.total, s.chunk)) as Readable
    let got = 0
    for await (const c of stream) got += (c as Uint8Array).length
    if (got !== s.total) throw new Error(`farside stream carried ${got} bytes, not ${s.total}`)
    return performance.now() - start
  })
  return { ms: r.value, here: r.peak - r.base, there: ((await root.peak(false)) as number) - base }
}

/** Reads raw chunk messages until `{ end, peak }`; `ack` is called with each chunk's size. */
function rawReader(total: number, ack?: (n: number) => void) {
  let got = 0
  let done!: (peak: number) => void
  const finished = new Promise<number>((resolve) => (done = resolve))
  const on = (m: any) => {
    if (m?.end) {
      if (got !== total) throw new Error(`raw stream carried ${got} bytes, not ${total}`)
      return done(m.peak)
    }
    const c = Array.isArray(m) ? m[0] : m
    got += c.length
    ack?.(c.length)
  }
  return { on, finished }
}

async function rawRun(kind: string, s: StreamSizes, certs: Certs | undefined, dir: string) {
  const go = { total: s.total, chunk: s.chunk }
  const r = await withPeak(async () => {
    let finished: Promise<number>
    let stop: () => Promise<void>
    let start: number
    if (kind === 'worker') {
      const w = new Worker(peerPath, { workerData: { raw: true } })
      const tid = await new Promise<number | undefined>((resolve) => w.once('message', (m: { tid?: number }) => resolve(m.tid)))
      const unpin = pinThreads([tid])
      let pending = 0
      const reader = rawReader(s.total, (n) => {
        pending += n
        if (pending >= MiB) {
          w.postMessage({ ack: pending })
          pending = 0
        }
      })
      // its first message (its thread id, above) says it runs
      w.on('message', reader.on)
      start = performance.now()
      w.postMessage(go)
      finished = reader.finished
      stop = async () => {
        await w.terminate()
        unpin()
      }
    } else if (kind === 'fork') {
      const child = cp.fork(peerPath, ['raw', 'ipc'], { serialization: 'advanced', execArgv: [] })
      pinServer(child.pid!)
      const reader = rawReader(s.total)
      child.on('message', reader.on)
      start = performance.now()
      child.send(go)
      finished = reader.finished
      stop = async () => void child.kill()
    } else if (kind === 'spawn') {
      const child = cp.spawn(process.execPath, [peerPath, 'raw', 'stdio'], { stdio: ['pipe', 'pipe', 'inherit'] })
      pinServer(child.pid!)
      const reader = rawReader(s.total)
      child.stdout.on('data', frameReader(v8Codec, reader.on))
      start = performance.now()
      writeFrame(child.stdin, v8Codec, go)
      finished = reader.finished
      stop = async () => void child.kill()
    } else {
      const where = join(dir, `raw-${kind}-${sockets++}.sock`)
      const child = cp.fork(peerPath, ['raw', kind, where, certs?.keyFile ?? '', certs?.certFile ?? ''], { execArgv: [] })
      pinServer(child.pid!)
      const address = await new Promise<any>((resolve) => child.once('message', (m: any) => resolve(m.address)))
      const socket = kind === 'tls'
        ? tls.connect({ port: address.port, host: '127.0.0.1', ca: certs!.cert, servername: 'localhost' })
        : net.connect(kind === 'unix' ? { path: where } : { port: address.port, host: '127.0.0.1' })
      if (kind !== 'unix') (socket as net.Socket).setNoDelay(true)
      await new Promise((resolve) => socket.once(kind === 'tls' ? 'secureConnect' : 'connect', resolve))
      const reader = rawReader(s.total)
      socket.on('data', frameReader(v8Codec, reader.on))
      start = performance.now()
      writeFrame(socket, v8Codec, go)
      finished = reader.finished
      stop = async () => {
        socket.destroy()
        child.kill()
      }
    }
    const there = await finished
    const ms = performance.now() - start
    await stop()
    return { ms, there }
  })
  return { ms: r.value.ms, here: r.peak - r.base, there: r.value.there }
}

async function startFar(kind: string, certs: Certs | undefined, dir: string, window?: number): Promise<Far> {
  // this side reads the streams: its window is the one that counts
  const limits = window === undefined ? {} : { limits: { streamWindow: window } }
  if (kind === 'worker') {
    const conn = await worker(new URL(`file://${peerPath}`), { heartbeat: false, ...limits })
    // the worker thread on the far CPU, this thread on the near one (transports/placement.ts)
    const unpin = pinThreads([await (conn.root as any).tid()])
    return { conn, close: async () => { await conn.close(); unpin() } }
  }
  if (kind === 'fork') {
    const conn = await pinnedChild(() => fork(peerPath, [], { heartbeat: false, execArgv: [], ...limits }))
    return { conn, close: () => conn.close() }
  }
  if (kind === 'spawn') {
    const conn = await pinnedChild(() => spawn(process.execPath, [peerPath], { stdio: 'protocol', heartbeat: false, ...limits }))
    return { conn, close: () => conn.close() }
  }
  const where = join(dir, `farside-${kind}-${sockets++}.sock`)
  const child = cp.fork(peerPath, ['net', kind, where, certs?.keyFile ?? '', certs?.certFile ?? ''], { execArgv: [] })
  pinServer(child.pid!)
  const address = await new Promise<any>((resolve) => child.once('message', (m: any) => resolve(m.address)))
  const conn = await connect(address, { heartbeat: false, ...limits, ...(kind === 'tls' ? { tls: { ca: certs!.cert, servername: 'localhost' } } : {}) })
  return { conn, close: async () => { await conn.close(); child.disconnect(); child.kill() } }
}

/**
 * Puts this thread on its CPU for a far process of `kind`, as the transport tables do
 * (transports/placement.ts); returns the undo. A worker thread is pinned once it runs, with this
 * thread (startFar, rawRun), so there is nothing to do here for it.
 */
function pinFor(kind: string): () => void {
  return kind === 'worker' ? () => {} : pinClient()
}

/**
 * Calls made and not counted before each state is measured (idle, and during the bulk stream):
 * the far worker is a fresh thread, and with a stream's paths still cold on both sides the first
 * thousand or so calls during it take up to twice as long as later ones (steady state is what
 * the target is about).
 */
const WARM_CALLS = 2000

/** Round trips of add(1, 2), sequential, for `ms` or `n` calls; per-call times in µs. */
async function roundTrips(root: any, n: number, until?: () => boolean): Promise<number[]> {
  const out: number[] = []
  for (let i = 0; i < n && (until === undefined || !until()); i++) {
    const t = performance.now()
    if ((await root.add(1, 2)) !== 3) throw new Error('add(1, 2) went wrong')
    out.push((performance.now() - t) * 1000)
  }
  return out
}

/** The streams and iteration tables and their targets. */
export async function streams(s: StreamSizes, transportsToRun = ['worker', 'fork', 'spawn', 'tcp', 'unix', 'tls']): Promise<{ tables: Table[]; targets: Target[] }> {
  const tables: Table[] = []
  const targets: Target[] = []
  const dir = await mkdtemp(join(tmpdir(), 'farside-bench-streams-'))
  try {
    // what the scenarios before left to collect is collected now, not during the first calls below
    // (npm run bench has --expose-gc)
    ;(globalThis as { gc?: () => void }).gc?.()
    // ---- iteration, worker ----
    progress('streams: iterating 1,000,000 numbers held by a worker')
    const w = await startFar('worker', undefined, dir)
    const root = w.conn.root as any
    const t0 = performance.now()
    for (let i = 0; i < s.sampled; i++) if ((await root.at(i)) !== i) throw new Error('at(i) went wrong')
    const perItem = (performance.now() - t0) / s.sampled
    const oneByOne = perItem * 1_000_000
    const t1 = performance.now()
    let sum = 0
    for await (const x of root.numbers) sum += x as number
    const buffered = performance.now() - t1
    if (sum !== 499999500000) throw new Error('the buffered iteration lost items')
    const t2 = performance.now()
    const all = (await obtain(root.numbers)) as number[]
    const obtained = performance.now() - t2
    if (all.length !== 1_000_000) throw new Error('obtain lost items')
    tables.push({
      title: 'Iterating 1,000,000 numbers held by a worker',
      note: `One round trip per item (\`await r.at(i)\`, ${s.sampled.toLocaleString('en-US')} sampled and extrapolated), \`for await\` over the remote array (buffered: chunks from 2 doubling to 1000), and one \`obtain()\` of the whole array.`,
      columns: ['how', 'time', 'vs buffered'],
      rows: [
        ['a round trip per item (extrapolated)', `${(oneByOne / 1000).toFixed(1)} s`, times(oneByOne / buffered)],
        ['buffered for await', `${buffered.toFixed(0)} ms`, '1.00×'],
        ['one obtain()', `${obtained.toFixed(0)} ms`, times(obtained / buffered)],
      ],
    })
    targets.push({ name: 'buffered iteration vs a round trip per item', goal: '≥ 100× faster', measured: times(oneByOne / buffered), pass: oneByOne / buffered >= 100 })
    targets.push({ name: 'buffered iteration vs one obtain', goal: 'within 2×', measured: times(buffered / obtained), pass: buffered / obtained <= 2 })

    await w.close()

    // ---- a small call during a bulk stream: worker and TCP with the default window, worker with a big one ----
    progress('streams: a small call during a bulk stream')
    const latency: string[][] = []
    let worstDefault = 0
    for (const [kind, window] of [['worker', undefined], ['worker', 4 * MiB], ['tcp', undefined]] as const) {
      const unpin = pinFor(kind)
      const far = await startFar(kind, undefined, dir, window)
      try {
        const r = far.conn.root as any
        await roundTrips(r, WARM_CALLS)
        const idle = median(await roundTrips(r, 2000))
        // longer than the calls take: it is destroyed once they are measured
        const bulk = (await r.bytes(2 ** 32, s.chunk)) as Readable
        let flowing = true
        let got = 0
        const reading = (async () => {
          for await (const c of bulk) got += (c as Uint8Array).length
          flowing = false
        })()
        await roundTrips(r, WARM_CALLS, () => !flowing)
        const from = got
        const t = performance.now()
        const during = median(await roundTrips(r, 2000, () => !flowing))
        const rate = (got - from) / MiB / ((performance.now() - t) / 1000)
        if (!flowing) throw new Error('the bulk stream ended before the calls during it were measured')
        bulk.destroy()
        await reading.catch(() => {})
        if (window === undefined) worstDefault = Math.max(worstDefault, during / idle)
        latency.push([kind, window === undefined ? `default (${mib(DEFAULT_WINDOW)})` : mib(window), `${idle.toFixed(1)} µs`, `${during.toFixed(1)} µs`, times(during / idle), `${rate.toFixed(0)} MB/s`])
      } finally {
        await far.close()
        unpin()
      }
    }
    tables.push({
      title: 'A small call during a bulk stream',
      note: 'Median round trip of 2000 sequential `add(1, 2)` calls while nothing else runs, and while a remote Readable streams bytes to this side as fast as it is read (each state after 2000 calls of warm-up); the stream\'s rate over the measured calls. The window is this side\'s limits.streamWindow; while calls cross the connection a stream keeps at most 32 KiB on its way whatever its window (README, "Streams yield to calls"), so the calls wait behind little and the stream runs slower meanwhile. Pinned as the transport tables are (the worker thread too).',
      columns: ['transport', 'window', 'idle', 'during a bulk stream', 'vs idle', 'stream rate meanwhile'],
      rows: latency,
    })
    targets.push({ name: 'small call during a bulk stream (worker, TCP)', goal: '≤ 2× its idle round trip', measured: `worst ${times(worstDefault)}`, pass: worstDefault <= 2 })

    // ---- 256 MiB per transport ----
    let certs: Certs | undefined
    if (transportsToRun.includes('tls')) {
      const { generate } = await import('selfsigned')
      const pems = await generate([{ name: 'commonName', value: 'localhost' }], { keySize: 2048, extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }] } as never)
      certs = { keyFile: join(dir, 'key.pem'), certFile: join(dir, 'cert.pem'), cert: pems.cert }
      await writeFile(certs.keyFile, pems.private)
      await writeFile(certs.certFile, pems.cert)
    }
    const rows: string[][] = []
    let worst = Infinity
    let worstRss = 0
    const mbs = (ms: number) => s.total / MiB / (ms / 1000)
    for (const kind of transportsToRun) {
      const unpin = pinFor(kind)
      try {
        const raws: Awaited<ReturnType<typeof rawRun>>[] = []
        const ours: Awaited<ReturnType<typeof farsideRun>>[] = []
        const ratios: number[] = []
        for (let round = 0; round < s.rounds; round++) {
          progress(`streams: ${mib(s.total)} over ${kind}, round ${round + 1} of ${s.rounds}`)
          const runFarside = async () => {
            const far = await startFar(kind, certs, dir)
            try {
              ours.push(await farsideRun(far, s))
            } finally {
              await far.close()
            }
          }
          const runRaw = async () => void raws.push(await rawRun(kind, s, certs, dir))
          // which goes first alternates: a machine that warms up or slows down favours neither
          if (round % 2 === 0) {
            await runRaw()
            await runFarside()
          } else {
            await runFarside()
            await runRaw()
          }
          ratios.push(mbs(ours.at(-1)!.ms) / mbs(raws.at(-1)!.ms))
        }
        const ratio = median(ratios)
        worst = Math.min(worst, ratio)
        for (const fs of ours) worstRss = Math.max(worstRss, fs.here, fs.there)
        const peakOf = (list: { here: number; there: number }[]) => `${mib(Math.max(...list.map((x) => x.here)))} / ${mib(Math.max(0, ...list.map((x) => x.there)))}`
        rows.push([
          kind,
          `${mbs(median(raws.map((x) => x.ms))).toFixed(0)} MB/s`,
          `${mbs(median(ours.map((x) => x.ms))).toFixed(0)} MB/s`,
          times(ratio),
          ratios.map((x) => x.toFixed(2)).join(', '),
          peakOf(ours),
          peakOf(raws),
        ])
      } finally {
        unpin()
      }
    }
    tables.push({
      title: `Streaming ${mib(s.total)} from the far side`,
      note: `A remote Readable of ${s.chunk / 1024} KiB Buffers (\`for await\` on this side) against the same bytes piped by hand over the raw transport with its own backpressure: postMessage with an ack per MiB read (4 MiB window) for the worker, \`process.send\` per chunk for IPC, one length-prefixed node:v8 frame per chunk with write()/'drain' for stdio and the sockets. ${s.rounds} rounds per transport, each timing raw and farside once (which goes first alternates); MB/s is the median round's, the ratio the median of the rounds' ratios (each round's shown). Placement: ${placementNote()}; here the worker threads too. MB/s is MiB per second. RSS, the largest of the rounds: growth of this process's peak over its start / the far side's peak over its own (for the worker both are one process; the raw far side reports its absolute peak).`,
      columns: ['transport', 'raw', 'farside', 'farside / raw', 'each round', 'farside RSS here / there', 'raw RSS here / there (abs)'],
      rows,
    })
    targets.push({ name: `stream ${mib(s.total)}, every transport`, goal: '≥ 0.90× the raw transport', measured: `worst ${times(worst)}`, pass: worst >= 0.9 })
    targets.push({ name: 'stream memory', goal: '< 64 MiB above baseline, each side', measured: `worst ${mib(worstRss)}`, pass: worstRss < 64 * MiB })
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
  return { tables, targets }
}

// alone: node --expose-gc --import tsx bench/scenarios/streams.ts [MiB] [transports...]
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { render } = await import('../lib/report.ts')
  const total = Number(process.argv[2] ?? 256) * MiB
  const kinds = process.argv.slice(3)
  const out = await streams({ total, chunk: 64 * 1024, sampled: 2000, rounds: Number(process.env.ROUNDS ?? 3) }, kinds.length > 0 ? kinds : undefined)
  process.stdout.write(render({ date: new Date(), seconds: 0, how: 'streams scenario alone', ...out }))
  process.exit(0)
}
