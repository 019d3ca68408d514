// What a reader of the --html report must see, checked in a real browser: every chart laid out
// on screen and drawn from the run's figures (marks counted, values read back from the page).
// Plain JavaScript so that both the unit test and the installed-package test (test/dist) use it.
import assert from 'node:assert/strict'

/** Bins per latency histogram (src/cli/bench/html.ts HISTOGRAM_BINS). */
const BINS = 40

/**
 * Opens `file` (a report written for `report`, the run's JSON) in `page` and checks it. Throws an
 * AssertionError naming the chart that is wrong; resolves with a few figures read from the page.
 */
export async function checkReport(page, fileUrl, report) {
  const requests = []
  page.on('request', (r) => requests.push(r.url()))
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  await page.goto(fileUrl)
  assert.deepEqual(requests.filter((u) => u !== fileUrl), [], 'the report fetched something: it must be self-contained')
  assert.deepEqual(errors, [])

  const rows = report.transports.flatMap((t) => t.rows.map((r) => ({ t, r })))
  const ratio = (a, b) => `${(a / b).toFixed(2)}×`
  const ids = ['relative-latency', 'relative-throughput', ...report.transports.map((t) => `latency-${t.id}`), 'throughput', 'payload']
  const charts = await page.$$eval('svg.chart', (els) => els.map((e) => {
    const box = e.getBoundingClientRect()
    return { id: e.id, width: box.width, height: box.height }
  }))
  assert.deepEqual(charts.map((c) => c.id).sort(), [...ids].sort(), 'one chart each: relative bars, a latency chart per transport, throughput, payload')
  for (const c of charts) assert.ok(c.width > 200 && c.height > 40, `${c.id} is not laid out (${c.width}×${c.height})`)

  // bars relative to raw: one per non-raw row, each with the ratio the figures give
  const top = report.options.inFlight.at(-1)
  for (const [id, value] of [
    ['relative-latency', (t, r) => r.latency.p50 / raw(t).latency.p50],
    ['relative-throughput', (t, r) => at(r, top) / at(raw(t), top)],
  ]) {
    const bars = await page.$$eval(`#${id} rect.bar`, (els) => els.map((e) => ({ label: e.dataset.label, width: e.getBoundingClientRect().width, text: e.nextElementSibling.textContent })))
    const expected = rows.filter(({ r }) => r.kind !== 'raw')
    assert.equal(bars.length, expected.length, `${id}: one bar per farside or peer row`)
    expected.forEach(({ t, r }, i) => {
      assert.equal(bars[i].label, `${t.id} · ${r.name}`)
      if (r.error) return
      const v = value(t, r)
      assert.equal(bars[i].text, `${v.toFixed(2)}×`, `${id}: ${bars[i].label}`)
      assert.ok(bars[i].width > 0, `${id}: ${bars[i].label} has no bar`)
    })
    // longer bar, bigger ratio: the bars are drawn to scale
    const widest = bars.reduce((a, b) => (b.width > a.width ? b : a))
    assert.equal(widest.text, bars.map((b) => b.text).filter((s) => s.endsWith('×')).sort((a, b) => parseFloat(b) - parseFloat(a))[0], `${id}: the widest bar is not the largest ratio`)
  }

  // latency distributions: a histogram per row that has samples, and its median in the legend
  for (const t of report.transports) {
    const measured = t.rows.filter((r) => r.latency?.samples.length)
    const series = await page.$$eval(`#latency-${t.id} g.series`, (els) => els.map((e) => ({ name: e.dataset.series, points: Number(e.dataset.points), length: e.querySelector('path').getTotalLength() })))
    assert.deepEqual(series.map((s) => s.name), measured.map((r) => `${t.id} · ${r.name}`), `latency-${t.id}: one curve per row`)
    for (const s of series) {
      assert.equal(s.points, BINS, `${s.name}: ${BINS} bins`)
      assert.ok(s.length > 50, `${s.name}: the curve is not drawn`)
    }
    const medians = await page.$$eval(`figure[data-transport="${t.id}"] .p50`, (els) => els.map((e) => Number(e.dataset.value)))
    assert.deepEqual(medians, measured.map((r) => r.latency.p50), `latency-${t.id}: the medians shown`)
  }

  // throughput and payload: a point per figure, each where its value says
  for (const [id, pointsOf] of [
    ['throughput', (r) => r.throughput.map((x) => [x.inFlight, x.callsPerSec])],
    ['payload', (r) => r.payload.map((p) => [p.bytes, p.p50])],
  ]) {
    const points = await page.$$eval(`#${id} circle.point`, (els) => els.map((e) => ({ x: Number(e.dataset.x), y: Number(e.dataset.y), cy: e.getBoundingClientRect().top })))
    const expected = rows.flatMap(({ r }) => pointsOf(r))
    assert.equal(points.length, expected.length, `${id}: one point per figure`)
    assert.deepEqual(points.map((p) => [p.x, p.y]), expected, `${id}: the points carry the run's figures`)
    // the highest figure is drawn highest on the page
    const best = points.reduce((a, b) => (b.y > a.y ? b : a))
    assert.equal(Math.min(...points.map((p) => p.cy)), best.cy, `${id}: the largest value is not the highest point`)
  }

  const tableRows = await page.$$eval('#table-latency tr', (els) => els.length)
  assert.equal(tableRows, rows.length + 1, 'the latency table has a line per row')
  const first = rows.find(({ r }) => r.kind === 'farside' && !r.error)
  return { firstBar: first ? ratio(first.r.latency.p50, raw(first.t).latency.p50) : undefined, charts: charts.length }
}

function raw(t) {
  return t.rows.find((r) => r.kind === 'raw')
}

function at(r, n) {
  return r.throughput.find((x) => x.inFlight === n)?.callsPerSec ?? NaN
}
