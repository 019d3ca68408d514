// `farside bench`: parses the flags, runs every chosen transport (runner.ts over the table in
// transports.ts), prints the table, and writes the --json figures and the --html report.
import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import * as os from 'node:os'
import { parseArgs } from 'node:util'
import { parseSizes } from './format.ts'
import { htmlReport } from './html.ts'
import { progress } from './progress.ts'
import type { BenchReport, Environment } from './results.ts'
import { FULL, QUICK, runTransport, stepsOf, type Plan } from './runner.ts'
import { render } from './table.ts'
import { BenchContext, TRANSPORTS } from './transports.ts'

const IN_FLIGHT = [1, 10, 100, 1000]
const PAYLOADS = '1,1k,64k,1m'

export const usage = `usage: farside bench [--transports LIST] [--payloads LIST] [--quick] [--json FILE] [--html FILE]

Measures farside over each transport against that transport's hand-written ping-pong (and
comlink, capnweb, birpc over the worker's MessagePort, if installed): latency percentiles at
1 call in flight, throughput at ${IN_FLIGHT.join(', ')} in flight, and round trips by payload size.

  --transports LIST  comma-separated, from: ${TRANSPORTS.map((t) => t.id).join(', ')} (default: all)
  --payloads LIST    payload sizes in bytes, k = 1024, m = 1024² (default: ${PAYLOADS})
  --quick            a short run (about a second per row) instead of the full one
  --json FILE        write every figure, with its samples, as JSON
  --html FILE        write a self-contained HTML report with charts
  -h, --help         show this help

Exit codes: 0 done (a transport this machine cannot run is skipped with a note);
1 a row failed, or a file could not be written; 2 a bad flag or value.`

/** The machine and runtime the figures come from. */
export function environment(): Environment {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() || 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    v8: process.versions.v8,
    os: `${os.type()} ${os.release()}`,
    arch: process.arch,
    farside: farsideVersion(),
  }
}

/** The version in farside's package.json, found upwards from this file (dist/ or src/cli/bench/). */
function farsideVersion(): string {
  for (const up of ['../', '../../', '../../../']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), 'utf8')) as { name?: string; version?: string }
      if (pkg.name === 'farside') return pkg.version ?? 'unknown'
    } catch {
      // not at this level
    }
  }
  return 'unknown'
}

/** A bad flag or value: the message names it. */
class UsageError extends Error {}

function parse(argv: string[]) {
  let values
  try {
    ;({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        transports: { type: 'string' },
        payloads: { type: 'string' },
        quick: { type: 'boolean' },
        json: { type: 'string' },
        html: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const known = new Set(TRANSPORTS.map((t) => t.id))
  const list = values.transports === undefined || values.transports === 'all' ? [...known] : values.transports.split(',').map((s) => s.trim())
  for (const id of list) if (!known.has(id)) throw new UsageError(`--transports: unknown transport '${id}' (known: ${[...known].join(', ')})`)
  let payloads: number[]
  try {
    payloads = parseSizes(values.payloads ?? PAYLOADS)
  } catch (err) {
    throw new UsageError(`--payloads: ${(err as Error).message}`)
  }
  return { help: values.help === true, quick: values.quick === true, transports: list, payloads, json: values.json, html: values.html }
}

/**
 * Runs `farside bench` with `argv` (what follows `bench`) and resolves with the exit code: 0 when
 * every row ran, 1 when a row failed or a file could not be written, 2 for a bad flag (named on
 * stderr, with the usage). `--help` prints the usage on stdout (0). Never rejects for a transport's
 * failure: it is reported in the table and the files.
 */
export async function benchCommand(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parse>
  try {
    flags = parse(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`farside bench: ${err.message}\n\n${usage}\n`)
    return 2
  }
  if (flags.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  const plan: Plan = { ...(flags.quick ? QUICK : FULL), inFlight: IN_FLIGHT, payloads: flags.payloads }
  const chosen = TRANSPORTS.filter((t) => flags.transports.includes(t.id))
  const report: BenchReport = {
    schema: 1,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    environment: environment(),
    options: { quick: flags.quick, transports: chosen.map((t) => t.id), payloads: flags.payloads, inFlight: IN_FLIGHT, argv },
    transports: [],
    skipped: [],
    notes: [],
  }
  const t0 = Date.now()
  const ctx = new BenchContext()
  const bar = progress(chosen.length * stepsOf(plan))
  try {
    for (const t of chosen) {
      bar.step(`${t.id} · starting`)
      const result = await runTransport(t, ctx, plan, (label) => bar.step(label))
      if ('skipped' in result) {
        report.skipped.push({ id: t.id, reason: result.skipped })
        bar.skip(stepsOf(plan) - 1)
      } else report.transports.push(result)
    }
  } finally {
    bar.done()
    await ctx.close()
  }
  report.durationMs = Date.now() - t0
  report.notes.push(...ctx.notes)
  process.stdout.write(`${render(report)}\n`)
  let code = report.transports.some((t) => t.rows.some((r) => r.error !== undefined)) ? 1 : 0
  for (const [file, text] of [[flags.json, () => JSON.stringify(report)], [flags.html, () => htmlReport(report)]] as const) {
    if (file === undefined) continue
    try {
      await writeFile(file, text())
      process.stdout.write(`wrote ${file}\n`)
    } catch (err) {
      process.stderr.write(`farside bench: could not write ${file}: ${(err as Error).message}\n`)
      code = 1
    }
  }
  return code
}
