// The terminal output: the environment on top, then three aligned tables in the manner of
// mitata and hyperfine (latency percentiles, throughput per in-flight count, payload round trips),
// each row with its ratio to the transport's raw ping-pong, then notes and skipped transports.
import type { BenchReport, Environment } from './results.ts'
import { bytes, count, rate, ratio, time } from './format.ts'
import { latencyRatio, rawOf, throughputRatio } from './stats.ts'

/** Aligns `rows` into columns: the first two left-aligned, the rest right-aligned. */
export function columns(rows: string[][]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  return rows.map((row) => row.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd()).join('\n')
}

/** The environment header: what the figures were measured on. */
export function header(env: Environment, options: BenchReport['options']): string {
  return [
    `cpu      ${env.cpu} (${env.cores} cores, ${env.memoryGiB} GiB)`,
    `runtime  node ${env.node} (v8 ${env.v8}), ${env.os} ${env.arch}, farside ${env.farside}`,
    `options  ${options.argv.length ? options.argv.join(' ') : '(defaults)'}`,
  ].join('\n')
}

/** The whole terminal report of a run. */
export function render(report: BenchReport): string {
  const out: string[] = [header(report.environment, report.options), '']
  const latency: string[][] = [['transport', 'row', 'p50', 'p90', 'p99', 'p999', 'calls', 'vs raw']]
  const inFlight = report.options.inFlight
  const throughput: string[][] = [['transport', 'row', ...inFlight.map((n) => `${n} in flight`), `vs raw @${inFlight.at(-1)}`]]
  const payloads = report.options.payloads
  const payload: string[][] = [['transport', 'row', ...payloads.map(bytes)]]
  for (const t of report.transports) {
    const raw = rawOf(t)
    t.rows.forEach((row, i) => {
      const label = i === 0 ? t.id : ''
      const name = row.error ? `${row.name} (failed)` : row.name
      const l = row.latency
      const vs = row.kind === 'raw' ? '' : ratio(latencyRatio(row, raw))
      latency.push([label, name, time(l?.p50 ?? NaN), time(l?.p90 ?? NaN), time(l?.p99 ?? NaN), time(l?.p999 ?? NaN), l ? count(l.n) : '—', vs])
      const per = inFlight.map((n) => rate(row.throughput.find((x) => x.inFlight === n)?.callsPerSec ?? NaN))
      throughput.push([label, name, ...per, row.kind === 'raw' ? '' : ratio(throughputRatio(row, raw, inFlight.at(-1)!))])
      payload.push([label, name, ...payloads.map((b) => time(row.payload.find((p) => p.bytes === b)?.p50 ?? NaN))])
    })
  }
  out.push('latency, 1 call in flight', columns(latency), '', 'throughput, calls per second', columns(throughput), '', 'round trip by payload size (p50, bytes out and back by value)', columns(payload))
  const failed = report.transports.flatMap((t) => t.rows.filter((r) => r.error).map((r) => `${t.id} ${r.name}: ${r.error}`))
  if (failed.length) out.push('', 'failed:', ...failed.map((f) => `  ${f}`))
  if (report.skipped.length) out.push('', 'skipped:', ...report.skipped.map((s) => `  ${s.id}: ${s.reason}`))
  if (report.notes.length) out.push('', 'notes:', ...report.notes.map((n) => `  ${n}`))
  out.push('', 'vs raw: farside (or a peer) against the same transport\'s hand-written ping-pong; latency lower is better, throughput higher.')
  return out.join('\n')
}
