// The --html report: one self-contained page (inline CSS and SVG, no script, nothing fetched)
// with the environment, bars relative to raw, the latency distribution of each transport,
// throughput against calls in flight, round trip against payload size, and the tables.
import type { BenchReport, RowResult, TransportResult } from './results.ts'
import { bytes, count, rate, ratio, tickTime, time } from './format.ts'
import { latencyRatio, rawOf, throughputRatio } from './stats.ts'
import { barChart, esc, lineChart, type Bar, type Series } from './svg.ts'

const TRANSPORT_COLORS: Record<string, string> = {
  pair: '#4e79a7', worker: '#f28e2b', 'worker-shm': '#e15759', fork: '#76b7b2', spawn: '#59a14f', tcp: '#b8860b', unix: '#b07aa1', tls: '#d4526e',
}
const PEER_COLORS: Record<string, string> = { comlink: '#9c755f', capnweb: '#8cd17d', birpc: '#499894' }
const SPARE = ['#86bcb6', '#f1ce63', '#d37295', '#a0cbe8', '#ffbe7d']

/** A row's colour: its transport's for farside and raw, its library's for a peer. */
function colorOf(t: TransportResult, row: RowResult, index: number): string {
  if (row.kind === 'peer') return PEER_COLORS[row.name] ?? SPARE[index % SPARE.length]!
  return TRANSPORT_COLORS[t.id] ?? SPARE[index % SPARE.length]!
}
const dashOf = (row: RowResult) => (row.kind === 'raw' ? 'dashed' : row.kind === 'peer' ? 'dotted' : 'solid')
const nameOf = (t: TransportResult, row: RowResult) => `${t.id} · ${row.name}`

/** Bins per latency histogram. */
export const HISTOGRAM_BINS = 40

/** Share of calls (%) per log-spaced bin from the fastest call to the slowest p99.9 (slower ones in the last bin). */
export function histogram(samples: readonly number[], lo: number, hi: number, bins = HISTOGRAM_BINS): { x: number; y: number }[] {
  const l = Math.log10(lo)
  const step = (Math.log10(hi) - l) / bins || 1
  const counts = new Array<number>(bins).fill(0)
  for (const s of samples) counts[Math.min(bins - 1, Math.max(0, Math.floor((Math.log10(s) - l) / step)))]!++
  return counts.map((c, i) => ({ x: 10 ** (l + (i + 0.5) * step), y: (100 * c) / (samples.length || 1) }))
}

function latencyChart(t: TransportResult, index: number): string {
  const rows = t.rows.filter((r) => r.latency && r.latency.samples.length > 0)
  const lo = Math.min(...rows.map((r) => r.latency!.min))
  const hi = Math.max(...rows.map((r) => r.latency!.p999), lo * 1.5)
  const series: Series[] = rows.map((r, i) => ({
    name: nameOf(t, r),
    color: r.kind === 'raw' ? '#555' : colorOf(t, r, index + i),
    dash: dashOf(r),
    dots: false,
    points: histogram(r.latency!.samples, lo, hi).map((p) => ({ ...p, label: `${p.y.toFixed(1)}% near ${time(p.x)}` })),
  }))
  const chart = lineChart({ id: `latency-${t.id}`, width: 460, height: 240, x: { label: 'round trip (log scale)', log: true, format: tickTime }, y: { label: '% of calls', zero: true, format: (v) => `${v.toFixed(0)}%` }, series })
  const medians = rows.map((r) => `<li>${legendMark(series[rows.indexOf(r)]!)} ${esc(r.name)}: p50 <b class="p50" data-row="${esc(r.name)}" data-value="${r.latency!.p50}">${time(r.latency!.p50)}</b>, p99 ${time(r.latency!.p99)}</li>`)
  return `<figure class="latency" data-chart="latency" data-transport="${esc(t.id)}"><figcaption>${esc(t.id)} — ${esc(t.channel)}</figcaption>${chart}<ul class="legend">${medians.join('')}</ul></figure>`
}

function legendMark(s: Series): string {
  const dash = s.dash === 'dashed' ? '6 4' : s.dash === 'dotted' ? '2 3' : ''
  return `<svg width="26" height="10" aria-hidden="true"><line x1="1" x2="25" y1="5" y2="5" stroke="${s.color}" stroke-width="2.5" stroke-dasharray="${dash}"/></svg>`
}

function legend(series: Series[]): string {
  return `<ul class="legend">${series.map((s) => `<li>${legendMark(s)} ${esc(s.name)}</li>`).join('')}</ul>`
}

function lineSeries(report: BenchReport, pick: (r: RowResult) => Series['points']): Series[] {
  return report.transports.flatMap((t, ti) => t.rows.map((r, i) => ({ name: nameOf(t, r), color: colorOf(t, r, ti + i), dash: dashOf(r), points: pick(r) })))
}

function relativeBars(report: BenchReport): string {
  const top = report.options.inFlight.at(-1)!
  const latency: Bar[] = []
  const throughput: Bar[] = []
  report.transports.forEach((t, ti) => {
    const raw = rawOf(t)
    t.rows.forEach((r, i) => {
      if (r.kind === 'raw') return
      const l = latencyRatio(r, raw)
      const x = throughputRatio(r, raw, top)
      latency.push({ label: nameOf(t, r), value: l, color: colorOf(t, r, ti + i), text: ratio(l) })
      throughput.push({ label: nameOf(t, r), value: x, color: colorOf(t, r, ti + i), text: ratio(x) })
    })
  })
  return [
    `<figure data-chart="relative-latency"><figcaption>Round trip (p50, 1 in flight) relative to the transport's raw ping-pong — lower is better</figcaption>`,
    barChart({ id: 'relative-latency', bars: latency, reference: 1, label: '× the raw round trip' }),
    `</figure><figure data-chart="relative-throughput"><figcaption>Throughput at ${top} calls in flight relative to raw — higher is better</figcaption>`,
    barChart({ id: 'relative-throughput', bars: throughput, reference: 1, label: '× the raw calls per second' }),
    '</figure>',
  ].join('')
}

function tables(report: BenchReport): string {
  const { inFlight, payloads } = report.options
  const head = (cells: string[]) => `<tr>${cells.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`
  const body = (fn: (t: TransportResult, r: RowResult) => string[]) =>
    report.transports.flatMap((t) => t.rows.map((r) => `<tr class="${r.kind}">${fn(t, r).map((c, i) => (i < 2 ? `<td>${esc(c)}</td>` : `<td class="n">${esc(c)}</td>`)).join('')}</tr>`)).join('')
  const vs = (t: TransportResult, r: RowResult, v: number) => (r.kind === 'raw' ? '' : ratio(v))
  return [
    `<table id="table-latency">${head(['transport', 'row', 'p50', 'p90', 'p99', 'p999', 'calls', 'vs raw'])}`,
    body((t, r) => [t.id, r.error ? `${r.name} (failed: ${r.error})` : r.name, time(r.latency?.p50 ?? NaN), time(r.latency?.p90 ?? NaN), time(r.latency?.p99 ?? NaN), time(r.latency?.p999 ?? NaN), r.latency ? count(r.latency.n) : '—', vs(t, r, latencyRatio(r, rawOf(t)))]),
    `</table><table id="table-throughput">${head(['transport', 'row', ...inFlight.map((n) => `${n} in flight`), `vs raw @${inFlight.at(-1)}`])}`,
    body((t, r) => [t.id, r.name, ...inFlight.map((n) => rate(r.throughput.find((x) => x.inFlight === n)?.callsPerSec ?? NaN)), vs(t, r, throughputRatio(r, rawOf(t), inFlight.at(-1)!))]),
    `</table><table id="table-payload">${head(['transport', 'row', ...payloads.map(bytes)])}`,
    body((t, r) => [t.id, r.name, ...payloads.map((b) => time(r.payload.find((p) => p.bytes === b)?.p50 ?? NaN))]),
    '</table>',
  ].join('')
}

const CSS = `body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:980px;color:#222;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
dl.env{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:8px 0}dl.env dt{color:#666}dl.env dd{margin:0}
figure{margin:10px 0}figcaption{font-weight:600;margin-bottom:4px}.grid-2{display:grid;grid-template-columns:repeat(auto-fill,minmax(460px,1fr));gap:8px 16px}
svg.chart{max-width:100%;height:auto;background:#fff}.grid{stroke:#eee}.axis{stroke:#888}.reference{stroke:#222;stroke-dasharray:4 3}
.tick{font-size:11px;fill:#555}.axis-label{font-size:12px;fill:#333}.bar-value{font-size:12px;fill:#222;paint-order:stroke;stroke:#fff;stroke-width:3px}
ul.legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:2px 16px;font-size:12px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.raw td{color:#666}.note{color:#555}`

/** The whole report page for `report`: one HTML string that needs nothing from the network. */
export function htmlReport(report: BenchReport): string {
  const env = report.environment
  const { inFlight, payloads } = report.options
  const pairs: [string, string][] = [
    ['cpu', `${env.cpu} (${env.cores} cores, ${env.memoryGiB} GiB)`],
    ['runtime', `node ${env.node} (v8 ${env.v8}), ${env.os} ${env.arch}`],
    ['farside', env.farside],
    ['options', report.options.argv.join(' ') || '(defaults)'],
    ['run', `${report.startedAt}, ${(report.durationMs / 1000).toFixed(1)} s${report.options.quick ? ' (quick)' : ''}`],
  ]
  const throughput = lineSeries(report, (r) => r.throughput.map((x) => ({ x: x.inFlight, y: x.callsPerSec, label: `${rate(x.callsPerSec)} at ${x.inFlight} in flight` })))
  const payload = lineSeries(report, (r) => r.payload.map((p) => ({ x: p.bytes, y: p.p50, label: `${time(p.p50)} for ${bytes(p.bytes)}` })))
  const ticksOf = (values: number[], f: (v: number) => string) => values.map((v) => ({ value: v, label: f(v) }))
  const list = (title: string, items: string[]) => (items.length ? `<h2>${title}</h2><ul class="note">${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>` : '')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>farside bench — ${esc(report.startedAt)}</title><style>${CSS}</style></head><body>
<h1>farside bench</h1>
<p class="note">farside over each transport against that transport's hand-written ping-pong (raw, dashed) and the peer libraries where they ride the same channel (dotted).</p>
<dl class="env">${pairs.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>
<h2>Relative to raw</h2>${relativeBars(report)}
<h2>Latency distribution, 1 call in flight</h2><div class="grid-2">${report.transports.map((t, i) => latencyChart(t, i)).join('')}</div>
<h2>Throughput against calls in flight</h2><figure data-chart="throughput">${lineChart({ id: 'throughput', x: { label: 'calls in flight (log scale)', log: true, ticks: ticksOf(inFlight, String) }, y: { label: 'calls per second', zero: true, format: rate }, series: throughput })}${legend(throughput)}</figure>
<h2>Round trip against payload size</h2><figure data-chart="payload">${lineChart({ id: 'payload', x: { label: 'payload, out and back by value (log scale)', log: true, ticks: ticksOf(payloads, bytes) }, y: { label: 'round trip, p50 (log scale)', log: true, format: tickTime }, series: payload })}${legend(payload)}</figure>
<h2>Figures</h2>${tables(report)}
${list('Skipped', report.skipped.map((s) => `${s.id}: ${s.reason}`))}${list('Notes', report.notes)}
</body></html>
`
}
