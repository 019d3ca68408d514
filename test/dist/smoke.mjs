// Smoke test of the built package (dist/) imported by name from ESM: the way a user installs it.
import assert from 'node:assert/strict'
import { worker, pair, ConnectionClosedError, isRemote, PROTOCOL_VERSION } from 'farside'

assert.equal(typeof PROTOCOL_VERSION, 'number')
const [a, b] = pair({}, { root: { hi: () => 'hi' } })
assert.equal(await a.root.hi(), 'hi')
await a.close()
await b.closed

const conn = await worker(new URL('./worker.mjs', import.meta.url))
assert.equal(await conn.root.add(2, 3), 5)
assert.equal(await conn.root.makeNode(1).child(2).value, 12)
assert.ok(isRemote(await conn.root.makeNode(1)))
assert.equal(await conn.root.call((x) => x * 21), 42)
const pending = conn.root.call(() => new Promise(() => {}))
await conn.close()
// a RemotePromise is callable (typeof 'function'): hand assert.rejects a plain promise
  await assert.rejects(Promise.resolve(pending), ConnectionClosedError)

const cjs = await worker(new URL('./worker.cjs', import.meta.url))
assert.equal(await cjs.root.add(1, 1), 2)
await cjs.close()
console.log('dist-esm: 1 passed, 0 failed')
