// The fuzz harness: a target server in a child process (server.ts), a corpus recorded from a
// well-behaved client, hostile raw TCP clients sending the engine's attacks, a well-behaved
// prober checking answers all along, triage of crashes (which attack, alone, kills a fresh
// server) and the figures at the end (connections back to baseline, heap after gc).
import { fork, type ChildProcess } from 'node:child_process'
import * as net from 'node:net'
import { deserialize } from 'node:v8'
import { fileURLToPath } from 'node:url'
import { connect, deliver, obtain, keys, has, release, withOptions, type Connection } from '../../src/index.ts'
import { attacks, type Attack, type Corpus } from './engine.ts'
import type { Counter } from '../fixtures/service.ts'

const SERVER = fileURLToPath(new URL('./server.ts', import.meta.url))

/** How a target server ended, if it did. */
export interface Exit {
  code: number | null
  signal: string | null
  stderr: string
}

/** A fuzz target: the child process serving the fixture root on `port`. */
export interface Target {
  port: number
  child: ChildProcess
  /** Resolves when the child exits (for any reason). */
  exited: Promise<Exit>
  /** Whether the child has exited. */
  dead(): boolean
  /** Stops the child (IPC disconnect, then SIGKILL if it lingers; at once with `kill`). */
  stop(kill?: boolean): Promise<void>
}

// A hung target never sees the IPC channel close: whatever happens to this process, kill them.
const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const c of children) c.kill('SIGKILL')
})

/** Forks a fresh target server; resolves once it listens. */
export async function startTarget(handshakeTimeout = 2000): Promise<Target> {
  const child = fork(SERVER, [String(handshakeTimeout)], {
    execArgv: ['--expose-gc', '--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  let stderr = ''
  child.stderr!.setEncoding('utf8')
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < 64 * 1024) stderr += s
  })
  let isDead = false
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      isDead = true
      // stderr may still hold the stack: let the pipe drain first
      if (child.stderr!.readableEnded) resolve({ code, signal, stderr })
      else child.stderr!.once('end', () => resolve({ code, signal, stderr })).once('error', () => resolve({ code, signal, stderr }))
    })
  })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port: number }) => resolve(m.port))
    void exited.then((e) => reject(new Error(`the fuzz target exited before listening (${e.code ?? e.signal}): ${e.stderr}`)))
  })
  return {
    port,
    child,
    exited,
    dead: () => isDead,
    stop: async (now = false) => {
      if (isDead) return
      const kill = setTimeout(() => child.kill('SIGKILL'), 2000)
      if (child.connected && !now) child.disconnect()
      else child.kill('SIGKILL')
      await exited
      clearTimeout(kill)
    },
  }
}

/** The first line of an error and the first stack frame of a crash's stderr: its identity. */
export function signature(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim())
  const at = lines.find((l) => l.startsWith('at ')) ?? '(no stack)'
  const err = lines.find((l) => /^(\w*Error|Uncaught|RangeError|TypeError)\b/.test(l) || /Error:/.test(l)) ?? lines.find((l) => l !== '') ?? '(no message)'
  return `${err.slice(0, 200)} | ${at.slice(0, 200)}`
}

// ---- raw hostile clients ----

export interface Sent {
  /** The server closed the connection (as it should for a protocol fault). */
  closedByServer: boolean
  /** The connection failed to open (target down). */
  refused: boolean
}

/**
 * Opens a raw TCP connection, writes the attack's chunks, then ends it (or, for a lingering
 * attack, waits for the server to close it, at most `lingerMs`). Always leaves the socket destroyed.
 */
export function sendAttack(port: number, attack: Attack, lingerMs = 300): Promise<Sent> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.setNoDelay(true)
    let closedByServer = false
    let opened = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = () => {
      clearTimeout(timer)
      s.destroy()
      resolve({ closedByServer, refused: !opened })
    }
    s.on('error', () => {})
    s.on('data', () => {}) // drain what the server writes, so it never waits on us
    s.on('end', () => (closedByServer = true))
    s.on('close', finish)
    s.on('connect', () => void (async () => {
      opened = true
      for (const c of attack.chunks) {
        if (s.destroyed) return
        s.write(c)
        // a drip: one byte per write, each its own segment
        if (c.length === 1) await new Promise((r) => setImmediate(r))
      }
      if (attack.linger) timer = setTimeout(finish, lingerMs)
      else {
        s.end()
        timer = setTimeout(finish, 200)
      }
    })())
  })
}

// ---- recording a corpus ----

/** Splits a byte stream into the batches its frames carry. */
function batches(bytes: Buffer): unknown[][] {
  const out: unknown[][] = []
  for (let at = 0; at + 4 <= bytes.length; ) {
    const n = bytes.readUInt32BE(at)
    if (at + 4 + n > bytes.length) break
    out.push(deserialize(bytes.subarray(at + 4, at + 4 + n)) as unknown[])
    at += 4 + n
  }
  return out
}

/**
 * Runs a well-behaved client through every kind of message (ops, PULL, RELEASE, CANCEL, BEAT,
 * SETTLE, RET/THROW to the server's calls, BYE) via a recording proxy; returns its batches.
 */
export async function recordCorpus(port: number): Promise<Corpus> {
  const up: Buffer[] = []
  const down: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const proxy = net.createServer((client) => {
    const server = net.connect(port, '127.0.0.1')
    sockets.add(client).add(server)
    client.on('data', (d: Buffer) => (up.push(d), server.write(d)))
    server.on('data', (d: Buffer) => (down.push(d), client.write(d)))
    client.on('error', () => server.destroy()).on('close', () => server.end())
    server.on('error', () => client.destroy()).on('close', () => client.end())
  })
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r))
  const conn = await connect({ host: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port }, { heartbeat: 300 })
  const r = conn.root as any
  const tick = () => new Promise((res) => setTimeout(res, 5))
  await r.add(1, 2)
  await r.echo({ a: [1, 2n, new Map([[1, new Set([2])]])], d: new Date(0) })
  await r.version
  await obtain(r.nested)
  await keys(r)
  await has(r, 'add')
  await conn.browse()
  const c = new r.Counter(5)
  const inc = c.inc(2)
  await tick()
  await inc
  await c // a PULL: the instance was built on before it was awaited
  release(await c)
  for await (const x of r.range(5)) void x
  await conn.fetch<Counter>('reg').count
  const mine = await r.makeCounter(1)
  await conn.attach(mine, 'mine')
  await conn.ping()
  release(await deliver(conn, { x: 1 }))
  await r.call((x: number) => x * 2, 21) // the server calls us: our RET
  await r.call(() => { throw new TypeError('no') }, 0).catch(() => {}) // our THROW
  await r.echo(Promise.resolve(5)) // our SETTLE
  const ac = new AbortController()
  const cancelled = withOptions(r, { signal: ac.signal }).later(1)
  cancelled.catch(() => {})
  await tick()
  ac.abort() // our CANCEL
  await cancelled.catch(() => {})
  await new Promise((res) => setTimeout(res, 150)) // idle: our heartbeat BEAT
  release(mine)
  await conn.ping()
  await conn.close() // BYE
  await new Promise((res) => setTimeout(res, 20))
  for (const s of sockets) s.destroy()
  await new Promise((res) => proxy.close(res))
  const sent = batches(Buffer.concat(up))
  const [hello, ...session] = sent
  if (hello === undefined) throw new Error('the recording saw no HELLO')
  return { hello, session, answers: batches(Buffer.concat(down)).slice(1) }
}

// ---- the well-behaved prober ----

export interface Stats {
  connections: number
  pending: number
  heapUsed: number
  rss: number
}

/** A well-behaved client that checks answers; `check()` resolves with the failures it saw. */
export class Prober {
  conn!: Connection
  checks = 0
  wrong: string[] = []
  #n = 0

  /** `timeout` (ms) bounds each call: a server that stops answering is a hang, not a wait. */
  static async open(port: number, timeout = 10_000): Promise<Prober> {
    const p = new Prober()
    p.conn = await connect({ host: '127.0.0.1', port }, { timeout, limits: { handshakeTimeout: timeout } })
    return p
  }

  get root(): any {
    return this.conn.root
  }

  /** One round of calls with known answers. Never throws: a failure is recorded in `wrong`. */
  async check(): Promise<boolean> {
    const k = ++this.#n
    const expect = (what: string, got: unknown, want: unknown) => {
      this.checks++
      if (JSON.stringify(got) !== JSON.stringify(want)) this.wrong.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`)
    }
    try {
      expect('add', await this.root.add(k, 2), k + 2)
      expect('echo', await this.root.echo({ k, list: [k, 'x'] }), { k, list: [k, 'x'] })
      expect('fetch', await this.conn.fetch<Counter>('reg').count, 7)
      expect('new', await new this.root.Counter(k).inc(1), k + 1)
      const items: number[] = []
      for await (const x of this.root.range(3)) items.push(x)
      expect('iter', items, [0, 1, 2])
      return true
    } catch (err) {
      this.wrong.push(`check ${k} failed: ${(err as Error)?.message ?? String(err)}`)
      return false
    }
  }

  stats(): Promise<Stats> {
    return this.root.stats()
  }

  close(): Promise<void> {
    return this.conn.close()
  }
}

// ---- the fuzz loop ----

export interface Finding {
  /** crash: the server process exited; hang: it stopped answering a well-behaved client. */
  kind: 'crash' | 'hang'
  signature: string
  attack: { index: number; kind: string; note: string; chunks: number; bytes: number }
  /** The fewest chunks (hex, truncated) that still do it to a fresh server. */
  repro: string
  /** The crash's stderr (first lines); for a hang, what the prober saw. */
  stderr: string
}

export interface Report {
  seed: number
  framesTried: number
  attacksSent: number
  crashes: number
  hangs: number
  findings: Finding[]
  unreproduced: string[]
  /** Server connections left open (beyond the prober's) after every attack socket closed. */
  leakedConnections: number
  proberChecks: number
  proberWrong: string[]
  heap: { baseline: number; peak: number; final: number; limit: number }
  closedByServer: number
}

export interface FuzzOptions {
  seed: number
  frames: number
  concurrency?: number
  /** Triage incidents (replay the suspects alone, shrink the winner). Default true. */
  triage?: boolean
  log?: (line: string) => void
  /** Stop at the first crash or hang (the bounded test). */
  stopOnIncident?: boolean
  /** A prober call unanswered this long (ms) is a hang. Default 5000. */
  hangMs?: number
}

const MiB = 1024 * 1024
type Numbered = Attack & { index: number }
type Incident = { kind: 'crash'; exit: Exit } | { kind: 'hang'; what: string }

/** Runs the fuzzer against fresh targets until `frames` frames were sent; returns the figures. */
export async function fuzz(o: FuzzOptions): Promise<Report> {
  const log = o.log ?? (() => {})
  const concurrency = o.concurrency ?? 8
  const hangMs = o.hangMs ?? 5000
  const report: Report = {
    seed: o.seed, framesTried: 0, attacksSent: 0, crashes: 0, hangs: 0, findings: [], unreproduced: [],
    leakedConnections: 0, proberChecks: 0, proberWrong: [], heap: { baseline: 0, peak: 0, final: 0, limit: 0 }, closedByServer: 0,
  }
  let target = await startTarget()
  const corpus = await recordCorpus(target.port)
  let prober = await Prober.open(target.port, hangMs)
  await prober.check()
  const baseline = await settledStats(prober, 1)
  report.heap.baseline = baseline.heapUsed
  report.heap.limit = baseline.heapUsed + 64 * MiB
  log(`corpus: HELLO + ${corpus.session.length} session batches + ${corpus.answers.length} answers; baseline heap ${(baseline.heapUsed / MiB).toFixed(1)} MiB`)
  const gen = attacks(corpus, o.seed)
  const known = new Set<string>()
  // attacks sent since the last check that passed (with those still running): an incident's suspects
  let suspects: Numbered[] = []
  let stop = false
  let lastLog = 0
  const done = () => stop || report.framesTried >= o.frames

  while (!done()) {
    let incident: ((i: Incident) => void) | undefined
    const happened = new Promise<Incident>((resolve) => (incident = resolve))
    void target.exited.then((exit) => incident!({ kind: 'crash', exit }))
    let round = true
    const t = target
    const attacker = async () => {
      while (round && !done()) {
        const a = gen.next().value as Numbered
        report.framesTried += a.frames
        report.attacksSent++
        suspects.push(a)
        const sent = await sendAttack(t.port, a)
        if (sent.closedByServer) report.closedByServer++
      }
    }
    const checker = async () => {
      while (round && !done()) {
        const before = suspects.length
        const ok = await prober.check()
        if (!round) return
        if (!ok) {
          // the server is alive but did not answer (or answered wrong): a hang
          if (!t.dead()) incident!({ kind: 'hang', what: prober.wrong.at(-1) ?? 'no answer' })
          return
        }
        suspects = suspects.slice(before)
        if (report.framesTried - lastLog >= 5000) {
          lastLog = report.framesTried
          const s = await prober.stats().catch(() => undefined)
          if (s !== undefined) report.heap.peak = Math.max(report.heap.peak, s.heapUsed)
          log(`${report.framesTried} frames, ${report.attacksSent} attacks, ${report.crashes} crashes, ${report.hangs} hangs, heap ${s ? (s.heapUsed / MiB).toFixed(1) : '?'} MiB, ${s?.connections ?? '?'} connections`)
        }
      }
    }
    const workers = Promise.all([...Array.from({ length: concurrency }, attacker), checker()])
    const first = await Promise.race([workers.then(() => undefined), happened])
    round = false
    if (first === undefined) break
    if (first.kind === 'hang') {
      report.hangs++
      await target.stop(true)
    } else report.crashes++
    await workers
    const sig = first.kind === 'crash' ? signature(first.exit.stderr) : `hang: ${first.what}`
    log(`${first.kind.toUpperCase()} after ${report.framesTried} frames: ${sig}`)
    report.proberChecks += prober.checks
    await prober.close().catch(() => {})
    const culprits = suspects
    suspects = []
    if (o.triage !== false && !known.has(sig)) {
      known.add(sig)
      const found = await triage(culprits, hangMs, log)
      if (found === undefined) report.unreproduced.push(sig)
      else if (!known.has(`${found.kind}:${found.signature}:${found.attack.note.split(';')[0]}`)) {
        known.add(`${found.kind}:${found.signature}:${found.attack.note.split(';')[0]}`)
        report.findings.push(found)
        log(`  finding (${found.kind}): ${found.signature}\n  attack #${found.attack.index} ${found.attack.kind}: ${found.attack.note}`)
      }
    }
    if (o.stopOnIncident) stop = true
    target = await startTarget()
    prober = await Prober.open(target.port, hangMs)
  }

  // every attack socket is closed: the server's connections must come back to the prober's alone
  const end = await settledStats(prober, 1)
  report.leakedConnections = end.connections - 1 + end.pending
  report.heap.final = end.heapUsed
  report.heap.peak = Math.max(report.heap.peak, end.heapUsed)
  await prober.check()
  report.proberChecks += prober.checks
  report.proberWrong.push(...prober.wrong)
  await prober.close()
  await target.stop()
  return report
}

/** The target's stats once its connections are down to `want` (or after ~10 s of asking). */
async function settledStats(prober: Prober, want: number): Promise<Stats> {
  let s = await prober.stats()
  for (let i = 0; i < 100 && (s.connections > want || s.pending > 0); i++) {
    await new Promise((r) => setTimeout(r, 100))
    s = await prober.stats()
  }
  return s
}

/** What `attack` alone does to a live `target`: nothing (undefined), a crash or a hang. */
export async function tryAttack(target: Target, attack: Attack, hangMs = 3000): Promise<Incident | undefined> {
  await sendAttack(target.port, attack)
  // a crash may come a turn later (a rejection, a timer): a round trip on a fresh client settles it
  const p = await Prober.open(target.port, hangMs).catch(() => undefined)
  const ok = p !== undefined && (await p.check())
  await p?.close().catch(() => {})
  if (!target.dead() && !ok) return { kind: 'hang', what: p?.wrong.at(-1) ?? 'could not connect' }
  if (!target.dead()) await new Promise((r) => setTimeout(r, 50))
  if (!target.dead()) return undefined
  return { kind: 'crash', exit: await target.exited }
}

const sigOf = (i: Incident) => (i.kind === 'crash' ? signature(i.exit.stderr) : 'hang')

/** Replays each suspect alone on a fresh target; shrinks the first that does it (by chunks). */
export async function triage(suspects: Numbered[], hangMs: number, log: (s: string) => void): Promise<Finding | undefined> {
  let target = await startTarget()
  const fresh = async () => {
    await target.stop(true)
    target = await startTarget()
  }
  try {
    for (const a of [...suspects].reverse()) {
      const what = await tryAttack(target, a, hangMs)
      if (what === undefined) continue
      await fresh()
      const sig = sigOf(what)
      let chunks = a.chunks
      for (let i = chunks.length - 1; i >= 0 && chunks.length > 1; i--) {
        const fewer = chunks.filter((_, k) => k !== i)
        const again = await tryAttack(target, { ...a, chunks: fewer }, hangMs)
        if (again === undefined) continue
        await fresh()
        if (sigOf(again) === sig) chunks = fewer
      }
      const bytes = Buffer.concat(chunks)
      return {
        kind: what.kind,
        signature: what.kind === 'crash' ? sig : `hang: ${what.what}`,
        attack: { index: a.index, kind: a.kind, note: a.note, chunks: a.chunks.length, bytes: bytes.length },
        repro: `${chunks.length} chunk(s), ${bytes.length} bytes: ${bytes.subarray(0, 160).toString('hex')}${bytes.length > 160 ? '…' : ''}`,
        stderr: what.kind === 'crash' ? what.exit.stderr.split('\n').slice(0, 14).join('\n') : what.what,
      }
    }
    log(`  no single suspect of ${suspects.length} does it to a fresh server alone`)
    return undefined
  } finally {
    await target.stop(true)
  }
}
