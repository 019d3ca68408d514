// farside bench: its figures (percentiles, sizes), its TLS certificate, its flags and exit codes,
// and its HTML report opened in a real headless browser (a fixture run and a real tiny run).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import * as tls from 'node:tls'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Browser } from 'playwright-core'
import { selfSignedCertificate } from '../src/cli/bench/cert.ts'
import { benchCommand } from '../src/cli/bench/command.ts'
import { parseSizes, time } from '../src/cli/bench/format.ts'
import { histogram, htmlReport } from '../src/cli/bench/html.ts'
import type { BenchReport, RowResult } from '../src/cli/bench/results.ts'
import { progress } from '../src/cli/bench/progress.ts'
import { runTransport, type Plan } from '../src/cli/bench/runner.ts'
import { percentile, summarize } from '../src/cli/bench/stats.ts'
import { BenchContext, type TransportCase } from '../src/cli/bench/transports.ts'
import type { Session } from '../src/cli/bench/pingpong.ts'
import { render } from '../src/cli/bench/table.ts'
import { checkReport } from './browser/check-report.mjs'
import { launch } from './browser/chromium.mjs'
import { TS_EXEC_ARGV } from './harness.ts'

const dir = mkdtempSync(join(tmpdir(), 'farside-bench-test-'))
let browser: Browser | undefined
test.before(async () => {
  browser = await launch()
})
test.after(async () => {
  await browser?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The bench command from the sources in a process of its own (what `farside bench ARGS` runs; the dispatcher is tested with the built binary). */
const ENTRY = `const { benchCommand } = await import('./src/cli/bench/command.ts'); process.exitCode = await benchCommand(process.argv.slice(1))`

/** `farside bench ARGS` from the sources: exit code and output. */
function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...TS_EXEC_ARGV, '--input-type=module', '-e', ENTRY, '--', ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr })
    })
  })
}

test('percentiles are nearest-rank; a summary does not reorder its input', () => {
  const xs = Array.from({ length: 1000 }, (_, i) => 1000 - i)
  assert.is(percentile([...xs].sort((a, b) => a - b), 0.5), 500)
  const s = summarize(xs)
  assert.equal([s.n, s.min, s.p50, s.p90, s.p99, s.p999, s.max], [1000, 1, 500, 900, 990, 999, 1000])
  assert.is(s.mean, 500.5)
  assert.is(xs[0], 1000)
  assert.ok(Number.isNaN(summarize([]).p50))
})

test('payload sizes: bytes with k and m; anything else names the item', () => {
  assert.equal(parseSizes('1,1k,64k,1m'), [1, 1024, 65536, 1048576])
  assert.equal(parseSizes('100, 2KiB'), [100, 2048])
  for (const bad of ['0', 'x', '1g', '65m', '']) assert.throws(() => parseSizes(bad), (e: Error) => e instanceof TypeError && e.message.includes(`'${bad}'`))
})

test('the certificate made with node:crypto passes a verifying TLS handshake for localhost', async () => {
  const { key, cert } = selfSignedCertificate()
  const server = tls.createServer({ key, cert }, (s) => s.end('ok'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  try {
    const got = await new Promise<string>((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' })
      let text = ''
      c.on('data', (d) => (text += d))
      c.on('end', () => resolve(text))
      c.on('error', reject)
    })
    assert.is(got, 'ok')
    // and it is refused for a name it was not made for
    const refused = await new Promise<Error>((resolve) => {
      const c = tls.connect({ host: '127.0.0.1', port, ca: cert, servername: 'example.com' })
      c.on('error', resolve)
      c.on('secureConnect', () => resolve(new Error('accepted')))
    })
    assert.match(refused.message, /example\.com|altnames/i)
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})

test('a row that fails to start or fails while measured is reported and the others go on; a transport that cannot run is skipped', async () => {
  const plan: Plan = { latencyMs: 6, levelMs: 3, payloadMs: 3, rounds: 2, warmupCalls: 5, inFlight: [1, 10], payloads: [16] }
  const closed: string[] = []
  const session = (name: string, failAfter = Infinity): Session => {
    let calls = 0
    return {
      add: async (a, b) => {
        if (++calls > failAfter) throw new Error('the far side went away')
        return a + b
      },
      echo: async (bytes) => bytes,
      close: async () => void closed.push(name),
    }
  }
  const t: TransportCase = {
    id: 'fake',
    channel: 'in memory',
    rows: async () => [
      { name: 'farside', kind: 'farside', start: async () => session('farside') },
      { name: 'raw', kind: 'raw', start: async () => session('raw', 200) },
      { name: 'peer', kind: 'peer', start: async () => Promise.reject(new Error('no such library')) },
    ],
  }
  const steps: string[] = []
  const ctx = new BenchContext()
  const result = await runTransport(t, ctx, plan, (s) => steps.push(s))
  assert.ok(!('skipped' in result))
  if ('skipped' in result) return
  const [farside, raw, peer] = result.rows
  assert.is(farside!.error, undefined)
  assert.equal(farside!.throughput.map((x) => x.inFlight), [1, 10])
  assert.equal(farside!.payload.map((p) => p.bytes), [16])
  assert.match(raw!.error!, /the far side went away/)
  assert.is(peer!.error, 'did not start: no such library')
  assert.equal(closed.sort(), ['farside', 'raw'], 'every started row is closed once')
  assert.equal(steps, ['fake · latency', 'fake · 1 in flight', 'fake · 10 in flight', 'fake · 16 B payload'])
  const skipped = await runTransport({ id: 'nope', channel: '', rows: async () => Promise.reject(new Error('not here')) }, ctx, plan, () => {})
  assert.equal(skipped, { skipped: 'not here' })
  await ctx.close()
})

test('the progress bar redraws one line on a terminal and writes nothing elsewhere', () => {
  const written: string[] = []
  const stream = (isTTY: boolean) => ({ isTTY, columns: 100, write: (s: string) => written.push(s) }) as unknown as NodeJS.WriteStream
  const quiet = progress(4, stream(false))
  quiet.step('a')
  quiet.done()
  assert.equal(written, [])
  const bar = progress(4, stream(true))
  bar.step('first')
  bar.step('second')
  bar.skip(1)
  bar.step('last')
  bar.done()
  bar.done()
  assert.is(written.length, 5)
  assert.ok(written.slice(0, 4).every((line) => line.startsWith('\r')), 'each draw rewrites the line')
  assert.match(written[0]!, / {2}0%.*first/)
  assert.match(written[1]!, /25%.*second/)
  assert.match(written[3]!, /75%.*last/)
  assert.is(written[4], '\r\x1b[K')
})

test('the latency histogram keeps every call and bins them on a log scale', () => {
  const bins = histogram([1, 2, 4, 8, 16, 10_000], 1, 16, 4)
  assert.is(bins.length, 4)
  assert.is(Math.round(bins.reduce((s, b) => s + b.y, 0)), 100)
  assert.ok(bins[3]!.y > bins[0]!.y, 'calls above the range land in the last bin')
})

/** A made-up run: three transports, peers on the worker, one failed row, one skipped transport. */
function fixtureReport(): BenchReport {
  let seed = 7
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647)
  const inFlight = [1, 10, 100, 1000]
  const payloads = [1, 1024, 65536]
  const row = (name: string, kind: RowResult['kind'], base: number): RowResult => {
    const samples = Array.from({ length: 2000 }, () => base * (1 + random() ** 4 * 20))
    return {
      name,
      kind,
      latency: { ...summarize(samples), samples },
      throughput: inFlight.map((n) => ({ inFlight: n, calls: n * 10, callsPerSec: (1e6 / base) * Math.sqrt(n) * (kind === 'farside' ? 1.5 : 1), batches: [] })),
      payload: payloads.map((bytes) => ({ bytes, ...summarize([base + bytes / 100]), samples: [base + bytes / 100] })),
    }
  }
  return {
    schema: 1,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 1234,
    environment: { cpu: 'Test CPU', cores: 2, memoryGiB: 8, node: 'v20.0.0', v8: '11', os: 'Linux 6', arch: 'x64', farside: '0.0.0' },
    options: { quick: true, transports: ['pair', 'worker', 'tcp', 'tls'], payloads, inFlight, argv: ['--quick'] },
    transports: [
      { id: 'pair', channel: 'one thread', rows: [row('farside', 'farside', 5), row('raw MessageChannel', 'raw', 4)] },
      { id: 'worker', channel: 'a thread', rows: [row('farside', 'farside', 20), row('raw postMessage', 'raw', 18), row('comlink', 'peer', 40), row('birpc', 'peer', 30)] },
      { id: 'tcp', channel: 'a socket', rows: [row('farside', 'farside', 60), row('raw TCP socket', 'raw', 50), { name: 'capnweb', kind: 'peer', throughput: [], payload: [], error: 'did not start: boom' }] },
    ],
    skipped: [{ id: 'tls', reason: 'no certificate' }],
    notes: ['a note'],
  }
}

test('the HTML report of a fixture run: every chart drawn from its figures, in a real browser', async () => {
  const report = fixtureReport()
  const file = join(dir, 'fixture.html')
  writeFileSync(file, htmlReport(report))
  const page = await browser!.newPage()
  try {
    const seen = await checkReport(page, pathToFileURL(file).href, report)
    assert.is(seen.charts, 2 + 3 + 2)
    assert.is(seen.firstBar, `${(report.transports[0]!.rows[0]!.latency!.p50 / report.transports[0]!.rows[1]!.latency!.p50).toFixed(2)}×`)
    const text = await page.textContent('body')
    assert.match(text!, /tls: no certificate/)
    assert.match(text!, /capnweb \(failed: did not start: boom\)/)
  } finally {
    await page.close()
  }
  // the terminal table of the same run
  const table = render(report)
  assert.match(table, /pair\s+farside\s+/)
  assert.match(table, new RegExp(`farside\\s+${time(report.transports[0]!.rows[0]!.latency!.p50).replace('.', '\\.')}`))
  assert.match(table, /capnweb \(failed\)/)
  assert.match(table, /skipped:\n {2}tls: no certificate/)
})

test('a real run over pair: the table, the JSON with its samples, and the report in the browser', async () => {
  const json = join(dir, 'run.json')
  const html = join(dir, 'run.html')
  const { code, stdout, stderr } = await bench(['--quick', '--transports', 'pair', '--payloads', '1,1k', '--json', json, '--html', html])
  assert.is(code, 0, stderr)
  assert.match(stdout, /latency, 1 call in flight/)
  assert.match(stdout, /pair\s+farside/)
  assert.match(stdout, new RegExp(`wrote ${json.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  const report = JSON.parse(readFileSync(json, 'utf8')) as BenchReport
  assert.equal(report.options.transports, ['pair'])
  assert.equal(report.transports[0]!.rows.map((r) => r.kind), ['farside', 'raw'])
  for (const r of report.transports[0]!.rows) {
    assert.is(r.error, undefined)
    assert.ok(r.latency!.samples.length === r.latency!.n && r.latency!.n > 10)
    assert.equal(r.throughput.map((t) => t.inFlight), [1, 10, 100, 1000])
    assert.equal(r.payload.map((p) => p.bytes), [1, 1024])
  }
  const page = await browser!.newPage()
  try {
    await checkReport(page, pathToFileURL(html).href, report)
  } finally {
    await page.close()
  }
})

/** benchCommand in this process, its stdout and stderr captured. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' }
  const real = { stdout: process.stdout.write, stderr: process.stderr.write }
  process.stdout.write = ((s: string) => ((out.stdout += s), true)) as typeof process.stdout.write
  process.stderr.write = ((s: string) => ((out.stderr += s), true)) as typeof process.stderr.write
  try {
    return { code: await benchCommand(args), ...out }
  } finally {
    process.stdout.write = real.stdout
    process.stderr.write = real.stderr
  }
}

test('flags: --help, a bad flag or value names it and shows the usage (exit 2)', async () => {
  const help = await inProcess(['--help'])
  assert.is(help.code, 0)
  assert.match(help.stdout, /usage: farside bench/)
  for (const [args, named] of [[['--bogus'], '--bogus'], [['--transports', 'pair,nope'], "'nope'"], [['--payloads', '1,0'], "'0'"], [['--json'], '--json'], [['extra'], 'extra']] as const) {
    const r = await inProcess([...args])
    assert.is(r.code, 2, args.join(' '))
    assert.ok(r.stderr.includes(named), `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /usage: farside bench/)
    assert.is(r.stdout, '')
  }
})

test.run()
