// Every transport against its own raw ping-pong: sequential round trip, 1000 in flight and payload
// scaling, then one summary table with a row per transport, a payload table, a details table with
// every row's own figures, and the targets.
import { median, quantile, ratios, type Plan, type Summary } from '../lib/measure.ts'
import { ratioCell, times, us, type Table, type Target } from '../lib/report.ts'
import { inFlight, sequential, type Outcome, type Row } from './calls.ts'
import { payload, type PayloadSize } from './payload.ts'

export interface TransportSpec {
  /** e.g. "TCP"; the summary row's label. */
  name: string
  /** What carries it, for the summary table (e.g. "connect() → listen(), child process"). */
  how: string
  rows: Row[]
  /** The raw ping-pong of the same transport and serialization: the baseline of every ratio. */
  raw: string
  /** A second raw baseline with JSON frames (TCP and Unix socket). */
  json?: string
}

export interface TransportOutcome {
  spec: TransportSpec
  seq: Outcome
  thr: Outcome
  /** Summaries per payload size, in the order of the sizes. */
  payload: { size: PayloadSize; summaries: Summary[] }[]
}

export interface TransportSizes {
  sequential: { calls: number; rounds: number; warmup: number }
  inFlight: { n: number; bursts: number; rounds: number; warmup: number }
  payload: PayloadSize[]
}

/** Measures one transport; `reuse` takes sequential and in-flight figures already measured (the worker's). */
export async function measureTransport(spec: TransportSpec, sizes: TransportSizes, reuse?: { seq: Outcome; thr: Outcome }): Promise<TransportOutcome> {
  const plan = (label: string, s: { rounds: number; warmup: number }): Plan => ({ rounds: s.rounds, warmup: s.warmup, label })
  const { sequential: sq, inFlight: fl } = sizes
  const seq = reuse?.seq ?? (await sequential(spec.rows, spec.raw, plan(`Sequential round trip (${spec.name})`, sq), sq.calls))
  const thr = reuse?.thr ?? (await inFlight(spec.rows, spec.raw, plan(`Throughput, ${fl.n} calls in flight (${spec.name})`, fl), fl.n, fl.bursts))
  const out: TransportOutcome['payload'] = []
  for (const size of sizes.payload) out.push({ size, summaries: await payload(spec.rows, spec.raw, size, spec.name) })
  return { spec, seq, thr, payload: out }
}

function find(summaries: Summary[], name: string): Summary {
  const s = summaries.find((x) => x.name === name)
  if (s === undefined) throw new Error(`no row named ${name}`)
  return s
}

/** µs below a millisecond, ms above. */
function duration(microseconds: number): string {
  return microseconds >= 1000 ? `${(microseconds / 1000).toFixed(microseconds >= 10_000 ? 1 : 2)} ms` : `${us(microseconds)} µs`
}

const perSecond = (microseconds: number) => Math.round(1e6 / microseconds).toLocaleString('en-US')

/** Throughput ratio of `row` to another baseline than the table's: median of per-round ratios. */
function againstOther(o: Outcome, row: string, baseline: string): Summary {
  const r = ratios(o.samples.get(baseline)!, o.samples.get(row)!)
  return { name: row, us: find(o.summaries, row).us, ratio: median(r), ratioLo: quantile(r, 0.25), ratioHi: quantile(r, 0.75), quarters: [] }
}

const BIG = (o: TransportOutcome) => o.payload[o.payload.length - 1]!

export function summaryTable(outcomes: TransportOutcome[], n: number): Table {
  const big = outcomes[0] === undefined ? '' : BIG(outcomes[0]).size.label
  return {
    title: 'Every transport against its own raw ping-pong (farside rows)',
    note:
      `One row per transport, farside's figures and the median of per-round ratios to the raw ping-pong of the same transport (quartiles in brackets). ` +
      `Sequential: \`add(i, 1)\` awaited one at a time (× raw: time ratio, lower is better). ${n} in flight: ${n} \`add\` calls started at once, then all awaited ` +
      `(× raw: throughput ratio, higher is better; for TCP and Unix also against the JSON-per-message baseline). ${big}: one \`echo(bytes)\` of a ${big} ` +
      `Uint8Array by value, out and back (time ratio). The worker row's sequential and in-flight figures are those of the worker tables below.`,
    columns: ['transport', 'carried by', 'raw baseline', 'sequential µs / call', 'sequential × raw', `${n} in flight calls / s`, `${n} in flight × raw v8`, `× raw JSON`, `${big} echo`, `${big} × raw`],
    rows: outcomes.map((o) => {
      const { spec } = o
      const seq = find(o.seq.summaries, 'farside')
      const thr = find(o.thr.summaries, 'farside')
      const json = spec.json !== undefined ? ratioCell(againstOther(o.thr, 'farside', spec.json)) : '—'
      const b = find(BIG(o).summaries, 'farside')
      return [spec.name, spec.how, spec.raw, us(seq.us), ratioCell(seq), perSecond(thr.us), ratioCell(thr), json, duration(b.us), ratioCell(b)]
    }),
  }
}

export function payloadTable(outcomes: TransportOutcome[]): Table {
  const sizes = outcomes[0]?.payload.map((p) => p.size) ?? []
  return {
    title: 'Payload scaling: one echo of N bytes by value, farside against the raw transport',
    note:
      'One `echo(bytes)` call with a Uint8Array of N bytes, returned by the far side: the bytes cross by value both ways (no `transfer()`), ' +
      'against the raw ping-pong of the same transport sending `[id, bytes]` and getting it back. Each cell: the median of per-round time ratios ' +
      '(lower is better) with its quartiles, then farside\'s and raw\'s median time per echo. The worker row runs unpinned (one worker thread ' +
      'serves both rows, as in the worker tables); its small-payload ratios move with that thread\'s placement from run to run. ' +
      sizes.map((s) => `${s.label}: ${s.calls} echo${s.calls > 1 ? 'es' : ''} per slot, ${s.rounds} rounds`).join('; ') + '.',
    columns: ['transport', 'raw baseline', ...sizes.map((s) => s.label)],
    rows: outcomes.map((o) => [
      o.spec.name,
      o.spec.raw,
      ...o.payload.map((p) => {
        const f = find(p.summaries, 'farside')
        const r = find(p.summaries, o.spec.raw)
        return `${ratioCell(f)}; ${duration(f.us)} / ${duration(r.us)}`
      }),
    ]),
  }
}

/** Every row of every transport (raw baselines included) with its own figures and quartiles. */
export function detailTable(outcomes: TransportOutcome[], n: number): Table {
  const rows: string[][] = []
  for (const o of outcomes) {
    for (const { name } of o.spec.rows) {
      const s = find(o.seq.summaries, name)
      const t = find(o.thr.summaries, name)
      const big = BIG(o).summaries.find((x) => x.name === s.name)
      rows.push([o.spec.name, s.name, us(s.us), ratioCell(s), perSecond(t.us), ratioCell(t), big === undefined ? '—' : duration(big.us), big === undefined ? '—' : ratioCell(big)])
    }
  }
  const big = outcomes[0] === undefined ? '' : BIG(outcomes[0]).size.label
  return {
    title: 'Transport details: every row',
    note: `The rows behind the summary, raw baselines included, each against its transport's raw v8 (or postMessage / IPC) baseline. ` +
      `Sequential: time ratio; ${n} in flight: throughput ratio; ${big}: time ratio. Transports other than the worker were measured in their own interleaved runs, one transport after another.`,
    columns: ['transport', 'row', 'sequential µs / call', '× raw', `${n} in flight calls / s`, 'throughput × raw', `${big} echo`, `${big} × raw`],
    rows,
  }
}

export function transportTargets(outcomes: TransportOutcome[], n: number, withSequential: (o: TransportOutcome) => boolean): Target[] {
  const targets: Target[] = []
  for (const o of outcomes.filter(withSequential)) {
    const s = find(o.seq.summaries, 'farside')
    targets.push({ name: `sequential call, ${o.spec.name}`, goal: `≤ 1.30× ${o.spec.raw} round trip`, measured: times(s.ratio), pass: s.ratio <= 1.3 })
  }
  for (const o of outcomes) {
    if (o.spec.json === undefined) continue
    const v8 = find(o.thr.summaries, 'farside')
    const json = againstOther(o.thr, 'farside', o.spec.json)
    targets.push({ name: `${n} in flight, ${o.spec.name}`, goal: `≥ 2.00× ${o.spec.raw} (one frame per message) throughput`, measured: times(v8.ratio), pass: v8.ratio >= 2 })
    targets.push({ name: `${n} in flight, ${o.spec.name}`, goal: `≥ 1.00× ${o.spec.json} (one frame per message) throughput`, measured: times(json.ratio), pass: json.ratio >= 1 })
  }
  for (const o of outcomes) {
    const p = BIG(o)
    const s = find(p.summaries, 'farside')
    targets.push({ name: `${p.size.label} by value, ${o.spec.name}`, goal: `echo ≤ 1.30× ${o.spec.raw}`, measured: times(s.ratio), pass: s.ratio <= 1.3 })
  }
  return targets
}
