// Smoke test of the built package (dist/) required by name from CommonJS.
const assert = require('node:assert/strict')
const path = require('node:path')
const { worker, pair, ConnectionClosedError } = require('farside')

;(async () => {
  const [a] = pair({}, { root: { hi: () => 'hi' } })
  assert.equal(await a.root.hi(), 'hi')
  await a.close()
  const conn = await worker(path.join(__dirname, 'worker.cjs'))
  assert.equal(await conn.root.add(2, 3), 5)
  assert.equal(await conn.root.call((x) => x * 21), 42)
  const pending = conn.root.call(() => new Promise(() => {}))
  await conn.close()
  // a RemotePromise is callable (typeof 'function'): hand assert.rejects a plain promise
  await assert.rejects(Promise.resolve(pending), ConnectionClosedError)
  console.log('dist-cjs: 1 passed, 0 failed')
})().catch((err) => {
  console.error(err)
  process.exit(1)
})
