// conn.unref() / conn.ref(): an unref'd connection does not keep its process alive, over every
// transport that can (worker, fork, spawn, TCP); ref() undoes it. Each case runs a program of its own.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { listen, pair } from '../src/index.ts'
import { Service } from './fixtures/service.ts'
import { TS_EXEC_ARGV, fixture, within } from './harness.ts'

const client = fileURLToPath(fixture('unref-client.ts'))

/** Runs the client program; resolves with its exit code and stdout. */
function run(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...TS_EXEC_ARGV, client, ...args], { timeout: 30_000 }, (err, stdout) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, out: stdout })
    })
  })
}

for (const kind of ['worker', 'shared-memory', 'fork', 'spawn', 'tcp']) {
  test(`${kind}: unref() lets the process exit with a call pending; ref() undoes it`, async () => {
    const server = kind === 'tcp' ? await listen({ host: '127.0.0.1', port: 0 }, { root: new Service() }) : undefined
    try {
      const port = server === undefined ? [] : [String((server.address as { port: number }).port)]
      const [unrefd, refd] = await within(Promise.all([run([kind, 'unref', ...port]), run([kind, 'ref', ...port])]), 40_000, `the ${kind} clients`)
      // 13: Node's exit code for a top-level await that can never settle (nothing keeps the loop alive)
      assert.is(unrefd.code, 13, `unref'd client: ${unrefd.out}`)
      assert.not.match(unrefd.out, /done/)
      assert.is(refd.code, 0)
      assert.match(refd.out, /done/)
    } finally {
      await server?.close()
    }
  })
}

test('unref() and ref() are idempotent, return the connection, and do nothing once closed', async () => {
  const [a, b] = pair({}, { root: new Service() })
  assert.is(a.unref(), a)
  assert.is(a.unref().ref().ref(), a)
  assert.is(await a.root.add(1, 2), 3)
  await a.close()
  assert.is(a.unref(), a)
  assert.is(a.ref(), a)
  await b.closed
})

test.run()
