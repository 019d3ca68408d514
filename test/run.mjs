// Runs the uvu suites with GC exposed, under a watchdog, and checks uvu's own totals.
// - A hung test fails the run instead of stalling CI.
// - uvu 0.5 counts a suite whose before/after.each hook threw as neither passed nor failed and
//   still exits 0, so the totals are checked here: every test must have passed.
import { spawn } from 'node:child_process'

const LIMIT_MS = Number(process.env.FARSIDE_TEST_TIMEOUT ?? 480_000)
const pattern = process.argv[2] ?? '\\.test\\.ts$'
const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', './node_modules/uvu/bin.js', 'test', pattern], {
  stdio: ['ignore', 'pipe', 'inherit'],
})
let out = ''
child.stdout.on('data', (chunk) => {
  out += chunk
  process.stdout.write(chunk)
})
const timer = setTimeout(() => {
  console.error(`\ntests did not finish within ${LIMIT_MS / 1000} s: killed (a hang, or a worker/process left running)`)
  child.kill('SIGKILL')
}, LIMIT_MS)
child.on('exit', (code, signal) => {
  clearTimeout(timer)
  // eslint-disable-next-line no-control-regex
  const plain = out.replace(/\u001b\[[0-9;]*m/g, '')
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN)
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN)
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0)
  // uvu's Total counts the tests that ran: a skipped test (test.skip) is in Skipped only
  const failed = Number.isNaN(total) ? 1 : total - passed
  console.log(`${Number.isNaN(passed) ? 0 : passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
  if (code !== 0 || signal || Number.isNaN(total) || failed !== 0 || total === 0) {
    if (code === 0 && failed !== 0) console.error('some tests neither passed nor failed: a hook threw (see the suite lines above)')
    process.exit(code || 1)
  }
})
