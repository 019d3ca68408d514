// The pool smoke checks, shared by pool.mjs and pool.cjs: each passes the farside it imported
// (ESM or CommonJS) and the tasks module of its own kind.
const assert = require('node:assert/strict')

/** Runs the checks on both runtimes with `farside`'s pool over the tasks module `tasks`. */
exports.checkPool = async function checkPool({ pool, ConnectionClosedError }, tasks) {
  for (const runtime of ['worker_threads', 'child_process']) {
    const p = pool(tasks, { size: 2, runtime })
    assert.equal(await p.run('add', 2, 3), 5)
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => p.run('inc', i)))
    assert.equal(results[999], 1000)
    assert.equal(await p.run('call', (x) => x * 21), 42)
    // the entry and the user's module share one farside (its currentCall() sees the call)
    assert.equal(await p.run('served'), true)
    const c = await p.create('Counter', 1)
    assert.equal(await c.inc(), 2)
    await p.close()
    await assert.rejects(Promise.resolve(c.inc()), ConnectionClosedError)
  }
}
