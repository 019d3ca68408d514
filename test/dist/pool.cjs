// Smoke test of the built pool (CommonJS): the .cjs worker entry, found from dist/index.cjs.
const assert = require('node:assert/strict')
const path = require('node:path')
const { pool, ConnectionClosedError } = require('farside')

async function main() {
  for (const runtime of ['worker_threads', 'child_process']) {
    const p = pool(path.join(__dirname, 'tasks.cjs'), { size: 2, runtime })
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
  console.log('dist-cjs pool: 1 passed, 0 failed')
}
main().catch((err) => {
  console.error(err)
  process.exit(1)
})
