// npm run bench: every scenario in one run, contenders interleaved round by round, written to
// bench/RESULTS.md. A new transport adds a host (or its own contenders) and its rows below.
import { writeFile } from 'node:fs/promises'
import type { Remote } from 'farside'
import { birpc } from './contenders/birpc.ts'
import { capnweb } from './contenders/capnweb.ts'
import { comlink } from './contenders/comlink.ts'
import type { Contender, Session } from './contenders/contender.ts'
import { farsidePair, farsideSharedWorker, farsideWorker, type FarsideSession, type WorkerService } from './contenders/farside.ts'
import { ownWorkers, sharedHost } from './contenders/hosts.ts'
import { raw, rawSameThread, rawWorkerAndChannel } from './contenders/raw.ts'
import { deadline, progress } from './lib/measure.ts'
import { render, type Table, type Target } from './lib/report.ts'
import { fasterThan, ratioTarget } from './lib/targets.ts'
import { inFlight, sequential, type Row } from './scenarios/calls.ts'
import { memory } from './scenarios/memory.ts'
import { sharedMemory } from './scenarios/shared-memory.ts'
import { streams } from './scenarios/streams.ts'
import { poolScenario } from './scenarios/pool.ts'
import { callback, chain } from './scenarios/ops.ts'
import { detailTable, measureTransport, payloadTable, summaryTable, transportTargets, type TransportOutcome, type TransportSpec } from './scenarios/transports.ts'
import { farsideFork, farsideSpawn, rawFork, rawSpawn } from './transports/child.ts'
import { startNetHost } from './transports/net.ts'
import { pinClient, pinThreads, placementNote } from './transports/placement.ts'

// Sizes. Slots are short (about a millisecond) and rounds many, so that contenders take turns
// often and the medians of many small per-round ratios settle. (With long slots each contender
// settles into a steady state of its own, fast or slow by how the OS schedules its traffic, and
// the ratios swing between 0.4× and 3× from run to run.) The whole run stays under 4 minutes.
// BENCH_QUICK=1 shrinks everything to check that it all runs (its figures are not worth keeping).
const QUICK = process.env.BENCH_QUICK === '1'
const rounds = (full: number, warmup: number) => (QUICK ? { rounds: 10, warmup: 1 } : { rounds: full, warmup })
const SIZES = {
  sequential: { calls: 20, ...rounds(401, 50) },
  inFlight: { n: 1000, bursts: 1, ...rounds(201, 20) },
  ops: { ops: 10, ...rounds(301, 50) },
  memory: { total: QUICK ? 50_000 : 1_000_000, inFlight: 1000 },
  sharedMemory: { cpu: { calls: 200, rounds: QUICK ? 5 : 50 }, idleMs: QUICK ? 200 : 1000 },
  pool: {
    tiny: QUICK ? 10_000 : 100_000,
    warmup: QUICK ? 2000 : 10_000,
    rounds: QUICK ? 1 : 3,
    fib: { n: 25, tasks: 40, ...rounds(21, 2) },
    calls: { calls: 250, ...rounds(41, 4) },
  },
  // every transport against its own raw ping-pong; the 16 MiB rounds are few (each is tens of ms)
  transports: {
    sequential: { calls: 20, ...rounds(301, 30) },
    inFlight: { n: 1000, bursts: 1, ...rounds(101, 10) },
    payload: [
      { bytes: 1, label: '1 B', calls: 10, ...rounds(201, 20) },
      { bytes: 1024, label: '1 KiB', calls: 10, ...rounds(201, 20) },
      { bytes: 64 * 1024, label: '64 KiB', calls: 4, ...rounds(101, 10) },
      { bytes: 2 ** 20, label: '1 MiB', calls: 1, ...rounds(81, 8) },
      { bytes: 2 ** 24, label: '16 MiB', calls: 1, ...rounds(41, 3) },
    ],
  },
}
const RAW = 'raw postMessage'
const PEERS = ['comlink', 'capnweb', 'birpc']

/** Starts a contender and checks it answers, so a broken one fails here rather than hangs later. */
async function start<S extends Session>(c: Contender<S>): Promise<{ name: string; session: S }> {
  progress(`starting ${c.name}`)
  const session = await deadline(`${c.name} start`, 10_000, () => c.start())
  const got = await deadline(`${c.name} first call`, 10_000, () => session.add(1, 2))
  if (got !== 3) throw new Error(`${c.name}: add(1, 2) answered ${String(got)}`)
  return { name: c.name, session }
}

const began = performance.now()
const { sequential: sq, inFlight: fl, ops, memory: mm } = SIZES
const plan = (label: string, sizes: { rounds: number; warmup: number }) => ({ rounds: sizes.rounds, warmup: sizes.warmup, label })
const tables: Table[] = []
const targets: Target[] = []

// One worker thread serves every library, each on its own port (see contenders/hosts.ts for why).
const farside = await start(farsideWorker)
const shared = sharedHost(farside.session.conn)
const rawRow = await start(raw(shared, RAW))
const rows: Row[] = [farside, rawRow, await start(comlink(shared)), await start(capnweb(shared)), await start(birpc(shared))]

const seq = await sequential(rows, RAW, plan('Sequential round trip (worker thread)', sq), sq.calls)
tables.push(seq.table)
targets.push(ratioTarget('sequential call', '≤ 1.30× raw round trip', seq.summaries, 'farside', 1.3))
targets.push(fasterThan(seq.samples, 'farside', PEERS))

const thr = await inFlight(rows, RAW, plan(`Throughput, ${fl.n} calls in flight (worker thread)`, fl), fl.n, fl.bursts)
tables.push(thr.table)
targets.push(ratioTarget(`${fl.n} in flight`, '≥ 1.00× raw throughput', thr.summaries, 'farside', 1.0, true))

const ch = await chain(rows, rawRow, plan('Pipelined chain of 3 operations (worker thread)', ops), ops.ops)
tables.push(ch.table)
targets.push(ratioTarget('pipelined chain', '≤ 1.50× one raw round trip', ch.summaries, 'farside chain (pipelined)', 1.5))

const cb = await callback(rows, rawRow, plan('Call with a callback (worker thread)', ops), ops.ops)
tables.push(cb.table)
targets.push(ratioTarget('callback', '≤ 2.50× one raw round trip', cb.summaries, 'farside run(cb)', 2.5))

// One worker per library: the same calls, but each library's far side on a thread of its own.
// The two raw rows share one worker, so their ratio shows what the Worker's own port costs
// against a MessageChannel port; the other ratios here also carry each thread's placement luck.
const own = ownWorkers()
const [rawWorker, rawChannel] = rawWorkerAndChannel(own)
const ownRows: Row[] = [farside, await start(rawWorker), await start(rawChannel), await start(comlink(own)), await start(capnweb(own)), await start(birpc(own))]
const ownSeq = await sequential(ownRows, rawWorker.name, plan('Sequential round trip, one worker per library', sq), sq.calls)
ownSeq.table.note += ' Informational, no target reads it: apart from the two raw rows (one thread), these ratios carry each thread\'s placement luck and change from run to run (see "How measured").'
tables.push(ownSeq.table)

// Same thread: pair() against a MessageChannel with both ends here. No thread wakes up, so what
// is left is the library's own cost per call (plus the event loop's turn per message).
const same: Row[] = [await start(farsidePair), await start(rawSameThread)]
const sameSeq = await sequential(same, RAW, plan('Same thread (pair()): sequential round trip', sq), sq.calls)
const sameThr = await inFlight(same, RAW, plan(`Same thread (pair()): ${fl.n} calls in flight`, fl), fl.n, fl.bursts)
tables.push(sameSeq.table, sameThr.table)

// Every transport against its own raw ping-pong (same serialization, hand-written), one transport
// after another. The worker's sequential and in-flight figures are the ones measured above.
const T = SIZES.transports
const outcomes: TransportOutcome[] = []
/** Starts a transport's rows, measures them, stops them. */
async function transport(spec: Omit<TransportSpec, 'rows'>, contenders: Contender[]): Promise<void> {
  const started: Row[] = []
  try {
    for (const c of contenders) started.push(await start(c))
    outcomes.push(await measureTransport({ ...spec, rows: started }, T))
  } finally {
    for (const r of started) await r.session.close()
  }
}
outcomes.push(await measureTransport({ name: 'worker', how: 'worker() → serveParent(), MessagePort', rows: [farside, rawRow], raw: RAW }, T, { seq, thr }))
// The shared-memory worker against the same rows (scenarios/shared-memory.ts), then its payload row.
// Pinned: this thread on CPU 0, the two worker threads on CPU 1 (transports/placement.ts says why).
const smRow = await start(farsideSharedWorker)
const tid = (s: FarsideSession) => (s.conn.root as Remote<WorkerService>).tid()
const unpinThreads = pinThreads([await tid(farside.session), await tid(smRow.session)])
try {
  const sm = await sharedMemory(rows, smRow, RAW, PEERS, { sequential: sq, inFlight: fl, ...SIZES.sharedMemory })
  tables.push(...sm.tables)
  targets.push(...sm.targets)
  outcomes.push(await measureTransport({ name: 'worker (shared memory)', how: 'worker(url, { sharedMemory: true }) → serveParent(), rings in a SharedArrayBuffer', rows: [{ name: 'farside', session: smRow.session }, rawRow], raw: RAW }, T))
} finally {
  unpinThreads()
}
// From here the main thread runs on CPU 0 and every far process on CPU 1 (transports/placement.ts).
const unpin = pinClient()
try {
  // farside and raw cannot share a child here (each owns its child's only channel), so a second
  // raw child runs alongside as a control: its ratio to the first is what two children differ by
  await transport({ name: 'fork (IPC)', how: "fork() → serveParent(), IPC, serialization 'advanced'", raw: 'raw IPC' }, [farsideFork, rawFork(), rawFork('raw IPC, second child')])
  await transport({ name: 'spawn (stdio)', how: "spawn(node, [child], { stdio: 'protocol' }), stdin/stdout", raw: 'raw stdio' }, [farsideSpawn, rawSpawn(), rawSpawn('raw stdio, second child')])
  progress('starting the socket host')
  const netHost = await startNetHost()
  try {
    await transport({ name: 'TCP', how: 'connect() → listen() in a child process, 127.0.0.1', raw: 'raw TCP v8', json: 'raw TCP JSON' }, netHost.contenders('tcp'))
    await transport({ name: 'Unix socket', how: 'connect() → listen() in a child process, Unix socket', raw: 'raw Unix v8', json: 'raw Unix JSON' }, netHost.contenders('unix'))
    await transport({ name: 'TLS', how: 'connect() → listen() in a child process, TLS over 127.0.0.1', raw: 'raw TLS v8' }, netHost.contenders('tls'))
  } finally {
    await netHost.stop()
  }
} finally {
  unpin()
}
tables.unshift(summaryTable(outcomes, T.inFlight.n), payloadTable(outcomes))
tables.push(detailTable(outcomes, T.inFlight.n))
// the worker's sequential target is the "sequential call" row above
targets.push(...transportTargets(outcomes, T.inFlight.n, (o) => o.spec.name !== 'worker'))

progress(`memory: ${mm.total.toLocaleString('en-US')} remotes`)
const mem = await memory(farside.session, mm.total, mm.inFlight)
tables.push(mem.table)
targets.push(...mem.targets)

// the call tables' threads are done: closed now, so that none of them (the farside one has just
// made and dropped a million remotes, and collects) shares the CPUs with the scenarios below
for (const r of [...rows, ...ownRows.slice(1), ...same, smRow]) await r.session.close()

// streams and iteration: its own far sides, one transport after another (scenarios/streams.ts)
const st = await streams({ total: (QUICK ? 16 : 256) * 2 ** 20, chunk: 64 * 1024, sampled: QUICK ? 200 : 2000, rounds: QUICK ? 1 : 5 })
tables.push(...st.tables)
targets.push(...st.targets)

const pooled = await poolScenario(SIZES.pool)
tables.push(...pooled.tables)
targets.push(...pooled.targets)

const how = `All figures come from one run of \`npm run bench\`. farside runs in a worker thread started with \`worker()\`
(its far side \`serveParent()\`, over the Worker's own port). comlink, capnweb, birpc and the baseline are served by that
same worker thread, each on a MessageChannel port of its own, each with its defaults. Why one thread: on this 2-core
machine a round trip comes in two speeds (about 17 µs and about 50 µs), by how the OS schedules the two threads (most
likely whether they share a core), and a thread keeps its mode for a while; rows served by different threads therefore
differ by luck from run to run (the one-worker-per-library table shows it), while rows served by one thread share it.
The baseline, "${RAW}", is a hand-written ping-pong: \`[id, a, b]\` out, \`[id, sum]\` back, a promise per call; it
rides a MessageChannel port where farside rides the Worker's own port, and the one-worker-per-library table times both
kinds of port on one thread (they match).
Each scenario warms every contender up, then runs many short rounds (each table says how many); in a round every
contender is timed once, in a new random order. Ratios are taken within a round and the median of those per-round ratios
is reported, with quartiles in brackets. Answers are checked, so a fast wrong answer fails the run.`.replace(/\n/g, ' ')
const howTransports = `The transport rows put every transport against its own raw ping-pong, hand-written with the same serialization:
the worker against "${RAW}" (above); fork() against \`child_process.fork\` with serialization 'advanced' and one
\`process.send\` per message; spawn() over stdin/stdout, TCP, Unix socket and TLS against length-prefixed node:v8 frames
(4-byte big-endian length, \`v8.serialize\`), one frame and one write per message, and for TCP and Unix socket also
length-prefixed \`JSON.stringify\` frames, one per message. farside sends the same frames but one per tick, holding every
message of the tick. Every server of the socket rows, farside's \`listen()\` and the raw ones, runs in one child process
(started with plain \`child_process.fork\`), with the socket options farside sets (no Nagle on TCP and TLS, both ends). Placement: ${placementNote()}; unpinned, two processes on this machine round-trip at
about 22 µs when the OS puts them on one core and about 70 µs on two, and keep their mode for a while, so two children
differ by up to 3× by luck (the "second child" control rows show what is left once pinned). Payload rows echo a
Uint8Array by value (\`echo(bytes)\` returns it; no \`transfer()\`), so the bytes cross twice. Same method: warm-up,
short interleaved rounds in random order, medians of per-round ratios; one transport is measured after another.`.replace(/\n/g, ' ')
const seconds = (performance.now() - began) / 1000
const text = render({ date: new Date(), seconds, how: `${how}\n\n${howTransports}`, tables, targets })
const out = QUICK ? 'RESULTS.quick.md' : 'RESULTS.md'
await writeFile(new URL(`./${out}`, import.meta.url), text)
process.stdout.write(text)
progress(`done in ${seconds.toFixed(0)} s; wrote bench/${out}`)
