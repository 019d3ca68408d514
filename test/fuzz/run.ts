// `npm run fuzz`: the long fuzz run against a live server in a child process. Prints its seed
// first, progress as it goes, and the figures at the end; exits 1 if anything went wrong.
//   node --import tsx test/fuzz/run.ts [--frames N] [--seed N] [--concurrency N] [--no-triage]
import { fileURLToPath } from 'node:url'
import { fuzz } from './harness.ts'

// only as a command: a test runner globbing for 'fuzz' that imports this file must not start a run
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main()

async function main(): Promise<void> {

  const args = process.argv.slice(2)
  const opt = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? Number(args[i + 1]) : fallback
}
  const seed = opt('seed', (Math.random() * 2 ** 31) | 0)
  const frames = opt('frames', 100_000)
  const MiB = 1024 * 1024

  console.log(`fuzz: seed ${seed}, ${frames} frames (reproduce with --seed ${seed} --frames ${frames})`)
  const r = await fuzz({ seed, frames, concurrency: opt('concurrency', 8), triage: !args.includes('--no-triage'), log: (s) => console.log(s) })
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`
  console.log(`
  frames tried        ${r.framesTried} (${r.attacksSent} attack connections, ${r.closedByServer} closed by the server)
  server crashes      ${r.crashes}
  server hangs        ${r.hangs}
  distinct findings   ${r.findings.length} reproduced alone on a fresh server, ${r.unreproduced.length} incidents not reproduced alone
  leaked connections  ${r.leakedConnections}
  prober checks       ${r.proberChecks}, wrong answers ${r.proberWrong.length}
  heap                baseline ${mib(r.heap.baseline)}, peak ${mib(r.heap.peak)}, final ${mib(r.heap.final)} (limit ${mib(r.heap.limit)})
  seed                ${seed}`)
  for (const [k, f] of r.findings.entries()) {
    console.log(`\nfinding ${k + 1} (${f.kind}): ${f.signature}\n  attack #${f.attack.index} (${f.attack.kind}): ${f.attack.note}\n  repro: ${f.repro}\n${f.stderr.replace(/^/gm, '    | ')}`)
}
  for (const u of r.unreproduced) console.log(`\nunreproduced incident: ${u}`)
  for (const w of r.proberWrong.slice(0, 20)) console.log(`wrong: ${w}`)
  const bad = r.crashes > 0 || r.hangs > 0 || r.leakedConnections > 0 || r.proberWrong.length > 0 || r.heap.final > r.heap.limit
  process.exit(bad ? 1 : 0)
}
