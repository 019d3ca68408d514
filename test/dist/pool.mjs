// Smoke test of the built pool (ESM): its worker entry ships in dist/ and is found from there,
// over both runtimes, with a user module that imports farside by name.
import assert from 'node:assert/strict'
import { pool, ConnectionClosedError } from 'farside'

for (const runtime of ['worker_threads', 'child_process']) {
  const p = pool(new URL('./tasks.mjs', import.meta.url), { size: 2, runtime })
  assert.equal(await p.run('add', 2, 3), 5)
  const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => p.run('inc', i)))
  assert.equal(results[999], 1000)
  assert.equal(await p.run('call', (x) => x * 21), 42)
  assert.equal(await p.run('served'), true)
  const c = await p.create('Counter', 1)
  assert.equal(await c.inc(), 2)
  await p.close()
  await assert.rejects(Promise.resolve(c.inc()), ConnectionClosedError)
}
console.log('dist-esm pool: 1 passed, 0 failed')
