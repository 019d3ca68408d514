// The bounded fuzz run of `npm test`: a fixed budget of hostile frames (test/fuzz/engine.ts)
// against a live listen() server in a child process, with a well-behaved client checking answers
// all along. A random seed each run, printed first; reproduce with `npm run fuzz -- --seed N`.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { fuzz } from './fuzz/harness.ts'

const seed = Number(process.env.FARSIDE_FUZZ_SEED ?? (Math.random() * 2 ** 31) | 0)
const FRAMES = 3000
const MiB = 1024 * 1024

test(`a live server survives ${FRAMES} hostile frames (seed ${seed})`, async () => {
  console.log(`fuzz seed ${seed} (reproduce: npm run fuzz -- --seed ${seed} --frames ${FRAMES})`)
  const r = await fuzz({ seed, frames: FRAMES, concurrency: 8, stopOnIncident: true })
  const found = r.findings.map((f) => `${f.kind} ${f.signature}: #${f.attack.index} ${f.attack.note}`).join('\n')
  assert.is(r.crashes, 0, `seed ${seed}: the server crashed\n${found}`)
  assert.is(r.hangs, 0, `seed ${seed}: the server stopped answering\n${found}`)
  assert.equal(r.proberWrong, [], `seed ${seed}: wrong answers`)
  assert.is(r.leakedConnections, 0, `seed ${seed}: connections left open after every attacker closed`)
  assert.ok(r.heap.final < r.heap.limit, `seed ${seed}: heap ${(r.heap.final / MiB).toFixed(1)} MiB after gc, over baseline + 64 MiB`)
  assert.ok(r.framesTried >= FRAMES)
})

test.run()
