// Faults of a worker peer: it fails at start, exits, crashes or is stopped mid-call. Pending calls
// reject with ConnectionClosedError carrying why; nothing hangs; no worker is left running.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ConnectionClosedError, type Connection } from '../src/index.ts'
import { rejects, tsWorker, within } from './harness.ts'

const start = (mode: string) => tsWorker('faulty-worker.ts', { workerData: { mode } })

test('a worker that throws at top level: worker() rejects with the error as cause', async () => {
  const err = await rejects(start('throw-at-top'), ConnectionClosedError)
  assert.is(err.exitCode, 1)
  assert.ok(err.cause instanceof Error)
  assert.match((err.cause as Error).message, /failed at start/)
})

test('a worker that exits before serving: worker() rejects with its exit code', async () => {
  const err = await rejects(start('exit-at-top'), ConnectionClosedError)
  assert.is(err.exitCode, 7)
})

async function midCall(mode: 'exit' | 'crash', arg?: number) {
  const conn: Connection = await start('serve')
  const root = conn.root as any
  assert.is(await root.ok(), 'ok')
  const other = root.hang()
  const err = await rejects(arg === undefined ? root[mode]() : root[mode](arg), ConnectionClosedError, `${mode} mid-call`)
  // every other pending call fails too, and calls after it fail at once
  await rejects(other, ConnectionClosedError, 'the other pending call')
  await rejects(root.ok(), ConnectionClosedError, 'a call after the exit')
  const info = await within(conn.closed)
  await conn.close()
  return { err, info }
}

test('a worker that exits mid-call: pending calls reject with the exit code', async () => {
  const { err, info } = await midCall('exit', 3)
  assert.is(err.exitCode, 3)
  assert.is(info.exitCode, 3)
  assert.is(info.reason, 'peer')
})

test('a worker that crashes mid-call: the uncaught error is the cause', async () => {
  const { err, info } = await midCall('crash')
  assert.is(err.exitCode, 1)
  assert.is(info.reason, 'error')
  assert.match((err.cause as Error).message, /crashed mid-call/)
})

test('closing the connection mid-call terminates the worker and rejects pending calls', async () => {
  const conn = await start('serve')
  const pending = (conn.root as any).hang()
  const closing = conn.close()
  const err = await rejects(pending, ConnectionClosedError)
  assert.is(err.reason, 'local')
  await within(closing, 5000, 'worker termination')
  await conn.close() // idempotent
  assert.is((await conn.closed).reason, 'local')
})

test('a worker file that does not exist: a clear error, not a hang', async () => {
  const err = await rejects(tsWorker('no-such-file.ts'), ConnectionClosedError)
  assert.match(String((err.cause as Error)?.message), /no-such-file|Cannot find/)
})

test.run()
