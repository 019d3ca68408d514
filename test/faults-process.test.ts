// Faults of child-process peers (fork over IPC, spawn over stdio): killed, exiting, failing at
// start, not found. Pending calls reject with ConnectionClosedError carrying exit code or signal.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn as spawnProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConnectionClosedError, TimeoutError, spawn, type Connection } from '../src/index.ts'
import { TS_EXEC_ARGV, fixture, rejects, tsFork, tsSpawn, within } from './harness.ts'

const starters = {
  fork: (mode = 'serve', options = {}) => tsFork('process-peer.ts', [mode], options),
  spawn: (mode = 'serve', options = {}) => tsSpawn('process-peer.ts', [mode], options),
}

for (const [name, start] of Object.entries(starters)) {
  const t = suite(`faults/${name}`)

  t('killed with SIGKILL mid-call: pending calls reject with the signal', async () => {
    const conn: Connection = await start()
    const root = conn.root as any
    const pid = await root.pid()
    const pending = [root.hang(), root.later(1, 10_000)]
    const rejected = pending.map((p) => rejects(p, ConnectionClosedError, 'pending call'))
    process.kill(pid, 'SIGKILL')
    const [err] = await Promise.all(rejected)
    assert.is(err!.signal, 'SIGKILL')
    const info = await within(conn.closed)
    assert.is(info.signal, 'SIGKILL')
    await rejects(root.add(1, 1), ConnectionClosedError, 'a call after the kill')
    await conn.close()
  })

  t('exits mid-call: pending calls reject with the exit code', async () => {
    const conn = await start()
    const err = await rejects((conn.root as any).exit(4), ConnectionClosedError)
    assert.is(err.exitCode, 4)
    await conn.close()
  })

  t('fails at start: the start rejects with the exit code', async () => {
    const err = await rejects(start('throw-at-top'), ConnectionClosedError)
    assert.is(err.exitCode, 1)
    const err2 = await rejects(start('exit-at-top'), ConnectionClosedError)
    assert.is(err2.exitCode, 9)
  })

  t('close() stops the child and rejects what is pending', async () => {
    const conn = await start()
    const root = conn.root as any
    const pid = await root.pid()
    const pending = rejects(root.hang(), ConnectionClosedError)
    await within(conn.close(), 8000, 'close')
    await pending
    assert.throws(() => process.kill(pid, 0), /ESRCH/, 'the child is gone')
  })

  t('a frozen child that reads nothing: the outgoing bound closes the connection, not memory', async () => {
    const conn: Connection = await start('serve', { heartbeat: false, limits: { maxOutgoingBytes: 2 * 1024 * 1024 } })
    const root = conn.root as any
    const pid = await root.pid()
    process.kill(pid, 'SIGSTOP')
    try {
      const pad = 'x'.repeat(64 * 1024)
      // one batch a turn, 64 KiB each, until the bound (2 MiB of bytes, or 64 messages) is crossed
      for (let i = 0; i < 2000 && !conn.isClosed; i++) {
        root.add(pad, i).then(undefined, () => {})
        await new Promise((r) => setImmediate(r))
      }
      const info = await within(conn.closed, 10_000, 'the bound closing the connection')
      assert.match(String((info.error as Error)?.message), /the peer is not reading/)
    } finally {
      process.kill(pid, 'SIGCONT')
      await conn.close()
    }
  })

  t('frozen with SIGSTOP: the heartbeat closes the connection with TimeoutError, pending calls reject', async () => {
    const conn: Connection = await start('serve', { heartbeat: 300 })
    const root = conn.root as any
    const pid = await root.pid()
    process.kill(pid, 'SIGSTOP')
    try {
      const err = await rejects(root.add(1, 1), ConnectionClosedError, 'a call to the frozen child')
      assert.ok(err.cause instanceof TimeoutError, 'the cause is the heartbeat TimeoutError')
      await rejects(conn.ping({ timeout: 1000 }), ConnectionClosedError, 'ping after')
    } finally {
      process.kill(pid, 'SIGCONT')
      await conn.close()
    }
  })

  t.run()
}

const f = suite('faults/fork-only')

// A busy parent: the kill lands while this thread is running, and the next batch is written
// before the channel's end or the exit is read. That write fails (EPIPE); without waiting for the
// exit, the EPIPE was the reported reason (0 of 20 tries named the signal, measured).
f('killed with SIGKILL while a busy parent writes: closed and every pending call name the signal', async () => {
  const tries = 10
  for (let t = 0; t < tries; t++) {
    const conn: Connection = await starters.fork()
    const root = conn.root as any
    const pid = await root.pid()
    const errors: unknown[] = []
    const keep = (p: Promise<unknown>) => p.then(() => errors.push('resolved'), (e) => errors.push(e))
    const pending = Array.from({ length: 100 }, () => keep(root.later(1, 10_000)))
    await root.add(1, 1) // those calls are on the wire
    process.kill(pid, 'SIGKILL')
    // busy for a moment (a workload, not a measurement): the child dies while this thread runs
    const until = performance.now() + 5
    while (performance.now() < until);
    for (let i = 0; i < 100; i++) pending.push(keep(root.echo('x'.repeat(1000))))
    const info = await within(conn.closed, 5000, `closed (try ${t})`)
    await Promise.all(pending)
    assert.equal({ reason: info.reason, signal: info.signal, error: (info.error as Error | undefined)?.message }, { reason: 'peer', signal: 'SIGKILL', error: undefined }, `try ${t}: closed`)
    for (const err of errors) {
      assert.ok(err instanceof ConnectionClosedError, `try ${t}: ${String(err)}`)
      assert.is(err.signal, 'SIGKILL', `try ${t}: a pending call's error`)
      assert.match(err.message, /signal SIGKILL/)
    }
    assert.is(errors.length, 200)
    await conn.close()
  }
})

// The child's serveParent() connection closes when its parent goes; it used to disconnect the
// channel again, and disconnect() on a dead channel emits an 'error' (ERR_IPC_DISCONNECTED) that
// nothing handled: every orphan crashed with it (exit code 1). Now it lets go and exits (code 0).
f('a parent that exits, throws or is killed without close(): its child ends quietly (exit 0, no unhandled error)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'farside-orphan-'))
  try {
    for (const mode of ['exit', 'throw', 'kill']) {
      const log = join(dir, `${mode}.log`)
      const parent = spawnProcess(process.execPath, [...TS_EXEC_ARGV, fileURLToPath(fixture('orphan-parent.ts')), mode], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, FARSIDE_TEST_LOG: log },
      })
      let out = ''
      let err = ''
      parent.stdout.on('data', (c) => (out += c))
      parent.stderr.on('data', (c) => (err += c))
      // the child holds the parent's stdout too: the pipe closes once both have exited
      const bothGone = new Promise((resolve) => parent.stdout.once('close', resolve))
      try {
        await within(bothGone, 8000, `${mode}: the parent and its orphan exit`)
      } catch (e) {
        // left running: stop what this test started before failing
        const pid = Number(out.trim())
        if (pid > 0) try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
        parent.kill('SIGKILL')
        throw e
      }
      const ended = readFileSync(log, 'utf8')
      assert.not.match(err, /ERR_IPC_DISCONNECTED|Unhandled/, `${mode}: stderr`)
      assert.not.match(ended, /uncaught/, `${mode}: the child's log`)
      assert.is(ended.trim(), 'exit 0', `${mode}: the child's log`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

f.run()

const s = suite('faults/spawn-only')

s('console.log in a stdio child goes to stderr, not into the protocol', async () => {
  const conn = await starters.spawn()
  const root = conn.root as any
  assert.is(await root.log('farside test: this line belongs on stderr'), 'farside test: this line belongs on stderr')
  assert.is(await root.add(2, 2), 4)
  await conn.close()
})

s('a command that does not exist: a clear error, at once', async () => {
  const err = await rejects(spawn('farside-no-such-command', [], { stdio: 'protocol' }), ConnectionClosedError)
  assert.match(String((err.cause as Error)?.message), /ENOENT/)
})

s('a command that does not speak the protocol: ProtocolError, not a hang', async () => {
  const err = await rejects(spawn(process.execPath, ['-e', 'process.stdout.write("hello, not farside\\n"); setTimeout(() => {}, 5000)'], { stdio: 'protocol' }), ConnectionClosedError)
  assert.match(String((err.cause as Error)?.message), /the peer does not speak farside \(it sent 'hello, not f…'\)/)
})

s('spawn() and fork() refuse bad arguments', async () => {
  await rejects(spawn('node', [], {} as any), TypeError)
  await rejects(spawn('node', 'x' as any, { stdio: 'protocol' }), TypeError)
})

s.run()
