// The report's charts, drawn as inline SVG strings (no library, no script): a line chart on
// linear or log axes and a horizontal bar chart with a reference line. Every mark carries its
// figure in a data- attribute and a <title>, so a reader can hover it and a test can read it.

export interface Point {
  x: number
  y: number
  /** Shown on hover. */
  label: string
}

export interface Series {
  name: string
  color: string
  dash?: 'solid' | 'dashed' | 'dotted'
  points: Point[]
  /** Draw a dot at each point (off for dense curves such as histograms). */
  dots?: boolean
}

export interface Axis {
  label: string
  log?: boolean
  /** Fixed ticks (e.g. the in-flight counts); otherwise chosen from the data. */
  ticks?: { value: number; label: string }[]
  format?: (v: number) => string
  /** Start a linear axis at zero. */
  zero?: boolean
}

export interface LineChart {
  id: string
  width?: number
  height?: number
  x: Axis
  y: Axis
  series: Series[]
}

const M = { top: 12, right: 30, bottom: 42, left: 64 }
const DASH = { solid: '', dashed: '6 4', dotted: '2 3' }

/** Escapes text for HTML and SVG. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

const num = (v: number) => (Math.round(v * 100) / 100).toString()

/** A scale from [lo, hi] onto [a, b]; logarithmic for a log axis. */
function scale(lo: number, hi: number, a: number, b: number, log: boolean) {
  const f = log ? Math.log10 : (v: number) => v
  const [l, h] = [f(lo), f(hi)]
  return (v: number) => a + ((f(v) - l) / (h - l || 1)) * (b - a)
}

/** Ticks for [lo, hi]: powers of 10 (and 2, 5 between when few) on a log axis, a 1-2-5 step on a linear one. */
function ticks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const out: number[] = []
    const few = Math.log10(hi / lo) < 1.5
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of few ? [1, 2, 5] : [1]) {
        const v = m * 10 ** e
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v)
      }
    }
    return out
  }
  const raw = (hi - lo) / 5
  const mag = 10 ** Math.floor(Math.log10(raw || 1))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi * 1.0001; v += step) out.push(v)
  return out
}

/** The data range of an axis, widened to nice bounds. */
function range(values: number[], axis: Axis): [number, number] {
  const finite = values.filter((v) => Number.isFinite(v) && (!axis.log || v > 0))
  if (axis.ticks?.length) finite.push(...axis.ticks.map((t) => t.value))
  let lo = Math.min(...finite)
  let hi = Math.max(...finite)
  if (!finite.length) [lo, hi] = [1, 10]
  if (axis.log) return axis.ticks?.length ? [lo, hi] : [lo / 1.15, hi * 1.15]
  if (axis.zero) lo = Math.min(0, lo)
  if (hi === lo) hi = lo + 1
  return [lo, hi + (hi - lo) * 0.05]
}

/** An SVG line chart: one path per series (data-points = its number of points), dots optional. */
export function lineChart(c: LineChart): string {
  const w = c.width ?? 720
  const h = c.height ?? 320
  const fmtX = c.x.format ?? num
  const fmtY = c.y.format ?? num
  const all = c.series.flatMap((s) => s.points)
  const [x0, x1] = range(all.map((p) => p.x), c.x)
  const [y0, y1] = range(all.map((p) => p.y), c.y)
  const sx = scale(x0, x1, M.left, w - M.right, c.x.log === true)
  const sy = scale(y0, y1, h - M.bottom, M.top, c.y.log === true)
  const parts: string[] = [`<svg class="chart" id="${esc(c.id)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" xmlns="http://www.w3.org/2000/svg">`]
  const xt = c.x.ticks ?? ticks(x0, x1, c.x.log === true).map((v) => ({ value: v, label: fmtX(v) }))
  for (const t of xt) {
    const x = num(sx(t.value))
    parts.push(`<line class="grid" x1="${x}" x2="${x}" y1="${M.top}" y2="${h - M.bottom}"/>`, `<text class="tick" x="${x}" y="${h - M.bottom + 16}" text-anchor="middle">${esc(t.label)}</text>`)
  }
  for (const v of ticks(y0, y1, c.y.log === true)) {
    const y = num(sy(v))
    parts.push(`<line class="grid" x1="${M.left}" x2="${w - M.right}" y1="${y}" y2="${y}"/>`, `<text class="tick" x="${M.left - 6}" y="${y}" dy="4" text-anchor="end">${esc(fmtY(v))}</text>`)
  }
  parts.push(
    `<line class="axis" x1="${M.left}" x2="${w - M.right}" y1="${h - M.bottom}" y2="${h - M.bottom}"/>`,
    `<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${h - M.bottom}"/>`,
    `<text class="axis-label" x="${(M.left + w - M.right) / 2}" y="${h - 6}" text-anchor="middle">${esc(c.x.label)}</text>`,
    `<text class="axis-label" transform="translate(14 ${(M.top + h - M.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(c.y.label)}</text>`,
  )
  for (const s of c.series) {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!c.y.log || p.y > 0))
    if (!pts.length) continue
    const d = pts.map((p, i) => `${i ? 'L' : 'M'}${num(sx(p.x))} ${num(sy(p.y))}`).join(' ')
    parts.push(`<g class="series" data-series="${esc(s.name)}" data-points="${pts.length}">`, `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${DASH[s.dash ?? 'solid']}"><title>${esc(s.name)}</title></path>`)
    if (s.dots !== false) {
      for (const p of pts) parts.push(`<circle class="point" cx="${num(sx(p.x))}" cy="${num(sy(p.y))}" r="3.5" fill="${s.color}" data-x="${p.x}" data-y="${p.y}"><title>${esc(`${s.name}: ${p.label}`)}</title></circle>`)
    }
    parts.push('</g>')
  }
  parts.push('</svg>')
  return parts.join('')
}

export interface Bar {
  label: string
  value: number
  color: string
  /** The figure written at the bar's end, e.g. "1.21×". */
  text: string
}

/** A horizontal bar chart from 0, with a reference line (e.g. 1× = the raw transport). */
export function barChart(c: { id: string; width?: number; bars: Bar[]; reference: number; label: string }): string {
  const w = c.width ?? 720
  const row = 24
  const left = 170
  const h = M.top + c.bars.length * row + 40
  const finite = c.bars.map((b) => b.value).filter(Number.isFinite)
  const hi = Math.max(c.reference, ...finite) * 1.15
  const sx = scale(0, hi, left, w - M.right - 50, false)
  const ref = num(sx(c.reference))
  const bottom = M.top + c.bars.length * row
  // the reference line first, so that the bars and their figures are drawn over it
  const parts: string[] = [
    `<svg class="chart" id="${esc(c.id)}" viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" xmlns="http://www.w3.org/2000/svg">`,
    `<line class="reference" x1="${ref}" x2="${ref}" y1="${M.top - 4}" y2="${bottom + 4}"/>`,
  ]
  c.bars.forEach((b, i) => {
    const y = M.top + i * row
    const width = Number.isFinite(b.value) ? sx(b.value) - left : 0
    parts.push(
      `<text class="tick" x="${left - 8}" y="${y + row / 2 + 4}" text-anchor="end">${esc(b.label)}</text>`,
      `<rect class="bar" x="${left}" y="${y + 3}" width="${num(Math.max(width, 0))}" height="${row - 6}" fill="${b.color}" data-label="${esc(b.label)}" data-value="${b.value}"><title>${esc(`${b.label}: ${b.text}`)}</title></rect>`,
      `<text class="bar-value" x="${num(left + Math.max(width, 0) + 6)}" y="${y + row / 2 + 4}">${esc(b.text)}</text>`,
    )
  })
  parts.push(
    `<text class="tick" x="${ref}" y="${bottom + 18}" text-anchor="middle">${num(c.reference)}× (raw)</text>`,
    `<text class="axis-label" x="${(left + w) / 2}" y="${h - 4}" text-anchor="middle">${esc(c.label)}</text>`,
    '</svg>',
  )
  return parts.join('')
}
