// Peers that fail to start: the start rejects with a ConnectionClosedError that says why in the
// peer's own words (a child's stderr, a worker's error), or names the likely mistake (the peer
// never called serveParent(), or does not speak farside at all).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConnectionClosedError, ProtocolError, fork, spawn } from '../src/index.ts'
import { TS_EXEC_ARGV, rejects, tsFork, tsSpawn, tsWorker } from './harness.ts'

/** Runs `fn` with this process's stderr writes caught (and kept off the test output). */
async function catchingStderr<T>(fn: () => Promise<T>): Promise<{ result: T; stderr: string }> {
  const write = process.stderr.write
  let stderr = ''
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')
    return true
  }) as typeof process.stderr.write
  try {
    return { result: await fn(), stderr }
  } finally {
    process.stderr.write = write
  }
}

const dir = mkdtempSync(join(tmpdir(), 'farside-start-'))
const broken = join(dir, 'syntax-error.mjs')
writeFileSync(broken, 'export const = 1\n')
const missing = join(dir, 'no-such-module.mjs')

const starters = {
  fork: {
    run: (mode: string, options = {}) => tsFork('process-peer.ts', [mode], options),
    file: (path: string) => fork(path, []),
  },
  spawn: {
    run: (mode: string, options = {}) => tsSpawn('process-peer.ts', [mode], options),
    file: (path: string) => spawn(process.execPath, [path], { stdio: 'protocol' }),
  },
}

for (const [name, start] of Object.entries(starters)) {
  const t = suite(`start/${name}`)

  t('throws at top level: the cause is the end of its stderr, which still reaches ours', async () => {
    const { result: err, stderr } = await catchingStderr(() => rejects(start.run('throw-at-top'), ConnectionClosedError))
    assert.is(err.exitCode, 1)
    assert.match(err.message, /^the child exited \(code 1\) before it called serveParent\(\): Error: failed at start$/)
    const cause = err.cause as Error & { stderr: string }
    assert.ok(cause instanceof Error, 'a cause')
    assert.match(cause.stderr, /Error: failed at start/)
    assert.match(cause.message, /Error: failed at start/)
    assert.ok(cause.stderr.split('\n').length <= 20, 'at most 20 lines')
    assert.match(stderr, /Error: failed at start/, 'passed through to our stderr')
  })

  t('a module that does not exist: the cause says so', async () => {
    const { result: err } = await catchingStderr(() => rejects(start.file(missing), ConnectionClosedError))
    assert.is(err.exitCode, 1)
    assert.match((err.cause as { stderr: string }).stderr, /Cannot find module/)
    assert.match(err.message, /before it called serveParent\(\): Error.*Cannot find module/)
  })

  t('a syntax error: the cause says so', async () => {
    const { result: err } = await catchingStderr(() => rejects(start.file(broken), ConnectionClosedError))
    assert.is(err.exitCode, 1)
    assert.match((err.cause as { stderr: string }).stderr, /SyntaxError/)
    assert.match(err.message, /before it called serveParent\(\): SyntaxError/)
  })

  t('ends without calling serveParent(): named as such, at once', async () => {
    const err = await rejects(start.run('silent'), ConnectionClosedError)
    assert.is(err.exitCode, 0)
    assert.is(err.message, 'the child exited (code 0) before it called serveParent()')
  })

  t('stays up without calling serveParent(): the handshake timeout says what is missing', async () => {
    const err = await rejects(start.run('idle', { limits: { handshakeTimeout: 300 } }), ConnectionClosedError)
    assert.is(err.message, 'the child did not start farside within 300 ms: does it call serveParent()?')
    assert.ok(err.cause instanceof ProtocolError, 'the core timeout is the cause')
  })

  t.run()
}

const w = suite('start/worker')

w('ends without calling serveParent(): named as such, at once', async () => {
  const err = await rejects(tsWorker('faulty-worker.ts', { workerData: { mode: 'silent' } }), ConnectionClosedError)
  assert.is(err.exitCode, 0)
  assert.is(err.message, 'the worker exited (code 0) before it called serveParent()')
})

w('stays up without calling serveParent(): the handshake timeout says what is missing', async () => {
  const err = await rejects(tsWorker('faulty-worker.ts', { workerData: { mode: 'idle' }, limits: { handshakeTimeout: 300 } }), ConnectionClosedError)
  assert.is(err.message, 'the worker did not start farside within 300 ms: does it call serveParent()?')
  assert.ok(err.cause instanceof ProtocolError, 'the core timeout is the cause')
})

w('throws at top level: the message carries its error', async () => {
  const err = await rejects(tsWorker('faulty-worker.ts', { workerData: { mode: 'throw-at-top' } }), ConnectionClosedError)
  assert.is(err.message, 'the worker exited (code 1) before it called serveParent(): failed at start')
})

w.run()

const s = suite('start/not-farside')

s("a command that prints before serving, or is no farside peer: 'does not speak farside'", async () => {
  for (const [command, args, sent] of [
    [process.execPath, ['-e', 'console.log("engine")'], 'engi'],
    ['echo', ['hello'], 'hell'],
    [process.execPath, [...TS_EXEC_ARGV, '-e', 'process.stdout.write("engine ready\\n"); setInterval(() => {}, 1000)'], 'engi'],
  ] as const) {
    const err = await rejects(spawn(command, [...args], { stdio: 'protocol' }), ConnectionClosedError, command)
    assert.ok(err.cause instanceof ProtocolError, `${command}: the cause is a ProtocolError`)
    assert.match((err.cause as Error).message, new RegExp(`^the peer does not speak farside \\(it sent '${sent}`))
    assert.match(err.message, /the peer does not speak farside/)
  }
})

s.after(() => rmSync(dir, { recursive: true, force: true }))

s.run()
