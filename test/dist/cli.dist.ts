// The `farside` command as a user runs it: `node dist/cli.js ...` from the built package, with
// real processes, signals and piped input.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, ConnectionClosedError } from '../../src/index.ts'
import { cli, ensureBuilt, served } from './built.ts'
import { fixture, rejects, socketPath, testCert, within } from '../harness.ts'

ensureBuilt()

const module = fileURLToPath(fixture('served.mjs'))
/** Plain output, whatever the test runner's colour settings. */
const env = { ...process.env, FORCE_COLOR: '0' }
const dir = mkdtempSync(join(tmpdir(), 'farside-cli-'))

interface Done {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the command to its end, with `input` on its stdin. */
function run(args: string[], input = ''): Promise<Done> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env })
  child.stdin!.end(input)
  return ended(child)
}

function ended(child: ChildProcess): Promise<Done> {
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d))
  child.stderr!.on('data', (d: Buffer) => (stderr += d))
  return within(new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr }))), 30_000, `farside ${child.spawnargs.slice(2).join(' ')}`)
}

/** Starts a long-running command (serve, registry) and resolves with its --json line. */
async function start(args: string[]): Promise<{ child: ChildProcess; info: Record<string, any>; done: Promise<Done> }> {
  const child = spawn(process.execPath, [cli, ...args, '--json'], { stdio: ['ignore', 'pipe', 'pipe'], env })
  const line = new Promise<string>((resolve) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')))
    })
  })
  const done = ended(child)
  const first = await within(Promise.race([line, done.then((d) => Promise.reject(new Error(`it ended: ${d.stderr}`)))]), 30_000, `farside ${args[0]} starting`)
  return { child, info: JSON.parse(first), done }
}

test('--help, --version and usage errors: exit codes 0 and 2, the bad flag named with the usage', async () => {
  const help = await run(['--help'])
  assert.is(help.code, 0)
  for (const cmd of ['serve', 'repl', 'bench', 'registry']) assert.match(help.stdout, cmd)
  assert.match(help.stdout, /Exit codes/)
  assert.match((await run(['--version'])).stdout, /^\d+\.\d+\.\d+/)
  for (const cmd of ['serve', 'repl', 'registry']) {
    const h = await run([cmd, '--help'])
    assert.is(h.code, 0)
    assert.match(h.stdout, `usage: farside ${cmd}`)
  }
  const bad = await run(['serve', '--bogus'])
  assert.is(bad.code, 2)
  assert.match(bad.stderr, "unknown option '--bogus'")
  assert.match(bad.stderr, 'usage: farside serve')
  const cases: Array<[string[], RegExp]> = [
    [['nope'], /unknown command 'nope'/],
    [['serve'], /needs --module/],
    [['serve', '--port'], /--port/],
    [['serve', '--module', module, '--port', '70000'], /--port must be a whole number/],
    [['serve', '--module', module, '--isolate', 'thread'], /--isolate must be 'process' or 'worker'/],
    [['serve', '--module', module, '--service', 'x'], /--service and --registry go together/],
    [['serve', '--tls-cert', 'c.pem', '--module', module], /--tls-cert and --tls-key go together/],
    [['repl'], /repl needs one of HOST:PORT/],
    [['repl', 'localhost:http'], /must be HOST:PORT/],
    [['registry', '--expiry', 'soon'], /--expiry must be a whole number/],
  ]
  for (const [args, message] of cases) {
    const r = await run(args)
    assert.is(r.code, 2, args.join(' '))
    assert.match(r.stderr, message, args.join(' '))
  }
})

test('failures exit 1 with one line naming the cause', async () => {
  const missing = await run(['serve', '--module', './no-such-svc.mjs'])
  assert.is(missing.code, 1)
  assert.match(missing.stderr, /--module: cannot load the module .*no-such-svc\.mjs/)
  const empty = await run(['serve', '--module', fileURLToPath(fixture('no-default.mjs'))])
  assert.is(empty.code, 1)
  assert.match(empty.stderr, /no default export/)
  const secret = await run(['serve', '--module', module, '--secret-file', join(dir, 'absent')])
  assert.is(secret.code, 1)
  assert.match(secret.stderr, /--secret-file: cannot read/)
  const refused = await run(['repl', '127.0.0.1:1'])
  assert.is(refused.code, 1)
  assert.match(refused.stderr, /could not connect to 127\.0\.0\.1:1/)
  assert.not.match(refused.stderr, /\n\s+at /, 'no stack trace')
})

test('serve: a module on TCP, one JSON line, SIGTERM closes cleanly (exit 0)', async () => {
  const { child, info, done } = await start(['serve', '--port', '0', '--module', module])
  assert.is(info.event, 'listening')
  assert.is(info.host, '127.0.0.1')
  const conn = await connect({ port: info.port })
  assert.is(await served(conn).add(2, 3), 5)
  assert.is((await served(conn).where()).pid, info.pid)
  child.kill('SIGTERM')
  const end = await done
  assert.is(end.code, 0)
  await within(conn.closed, 5000, 'the client seeing the server close')
  await rejects(connect({ port: info.port }), ConnectionClosedError)
})

test('serve --unix and repl --unix: piped lines, awaited in order, Remotes shown as such', async () => {
  const path = socketPath()
  const { child, info, done } = await start(['serve', '--unix', path, '--module', module])
  assert.is(info.path, path)
  const r = await run(['repl', '--unix', path], 'await root.add(2, 3)\nawait root.spin(50)\n[1, root, { r: root }]\nconst k = await keys(root); k.length > 3\n')
  assert.is(r.code, 0, r.stderr)
  const answers = r.stdout.split('farside> ').map((s) => s.trim()).filter(Boolean)
  assert.equal(answers.slice(0, 2), ['5', "'spun'"])
  assert.match(answers[2]!, /^\[ 1, \[Remote.*\], \{ r: \[Remote.*\] \} \]$/)
  assert.not.match(r.stdout, /farside\.handle/)
  assert.is(answers[3], 'true')
  child.kill('SIGINT')
  assert.is((await done).code, 0)
})

test('serve over TLS with a secret; repl --tls --tls-ca --secret-file; a wrong secret exits 1', async () => {
  const { key, cert } = await testCert()
  writeFileSync(join(dir, 'key.pem'), key)
  writeFileSync(join(dir, 'cert.pem'), cert)
  writeFileSync(join(dir, 'secret'), 'open sesame\n')
  writeFileSync(join(dir, 'wrong'), 'close sesame\n')
  const { child, info, done } = await start(['serve', '--port', '0', '--module', module, '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem'), '--secret-file', join(dir, 'secret')])
  assert.is(info.tls, true)
  assert.is(info.secret, true)
  const tls = ['--tls', '--tls-ca', join(dir, 'cert.pem')]
  const ok = await run(['repl', `127.0.0.1:${info.port}`, ...tls, '--secret-file', join(dir, 'secret')], 'await root.add(40, 2)\n')
  assert.is(ok.code, 0, ok.stderr)
  assert.match(ok.stdout, /42/)
  const wrong = await run(['repl', `127.0.0.1:${info.port}`, ...tls, '--secret-file', join(dir, 'wrong')], 'await root.add(1, 1)\n')
  assert.is(wrong.code, 1)
  assert.match(wrong.stderr, /secret/i)
  child.kill('SIGTERM')
  assert.is((await done).code, 0)
})

test('serve --isolate process: each client in its own process; the repl exits 1 when the server goes away', async () => {
  const { child, info, done } = await start(['serve', '--port', '0', '--module', module, '--isolate', 'process'])
  assert.is(info.isolate, 'process')
  const a = await connect({ port: info.port })
  const b = await connect({ port: info.port })
  const pa = (await served(a).where()).pid
  const pb = (await served(b).where()).pid
  assert.ok(pa !== pb && pa !== info.pid && pb !== info.pid)
  await a.close()
  await b.close()
  // a repl whose input stays open, until the server stops
  const repl = spawn(process.execPath, [cli, 'repl', `127.0.0.1:${info.port}`], { stdio: ['pipe', 'pipe', 'pipe'], env })
  const replDone = ended(repl)
  let out = ''
  repl.stdout!.on('data', (d: Buffer) => (out += d))
  repl.stdin!.write('await root.add(1, 2)\n')
  await within(new Promise<void>((resolve) => repl.stdout!.on('data', () => out.includes('3') && resolve())), 20_000, 'the repl answering')
  child.kill('SIGTERM')
  const r = await replDone
  assert.is(r.code, 1)
  assert.match(r.stderr, /the connection closed \(the server went away\)/)
  repl.stdin!.destroy()
  assert.is((await done).code, 0)
})

test('registry, serve --service and repl --service: found by name across processes', async () => {
  const reg = await start(['registry', '--port', '0', '--expiry', '5000'])
  const registry = `127.0.0.1:${reg.info.port}`
  const srv = await start(['serve', '--port', '0', '--module', module, '--service', 'calc', '--registry', registry])
  assert.is(srv.info.service, 'calc')
  const r = await run(['repl', '--service', 'calc', '--registry', registry], '(await root.where()).pid\n')
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, String(srv.info.pid))
  const unknown = await run(['repl', '--service', 'nobody', '--registry', registry])
  assert.is(unknown.code, 1)
  assert.match(unknown.stderr, /no server is registered as 'nobody'/)
  srv.child.kill('SIGTERM')
  assert.is((await srv.done).code, 0)
  // it unregistered on the way out
  const gone = await run(['repl', '--service', 'calc', '--registry', registry])
  assert.is(gone.code, 1)
  reg.child.kill('SIGTERM')
  assert.is((await reg.done).code, 0)
})

test('repl --classic against serve --classic: lines run on the server, its console shows here', async () => {
  const { child, info, done } = await start(['serve', '--port', '0', '--classic'])
  const r = await run(['repl', '--classic', `127.0.0.1:${info.port}`], 'const x = 20\nx + 1\nconsole.log("from the " + "peer", process.pid)\nprocess.pid\n')
  assert.is(r.code, 0, r.stderr)
  assert.match(r.stdout, /21/)
  assert.match(r.stdout, `from the peer ${info.pid}`, r.stdout)
  child.kill('SIGTERM')
  const end = await done
  assert.not.match(end.stdout, /from the peer/)
  // against a server without classic mode: a clear refusal
  const plain = await start(['serve', '--port', '0', '--module', module])
  const refused = await run(['repl', '--classic', `127.0.0.1:${plain.info.port}`])
  assert.is(refused.code, 1)
  assert.match(refused.stderr, /does not serve classic mode/)
  plain.child.kill('SIGTERM')
  await plain.done
})

test.after(() => rmSync(dir, { recursive: true, force: true }))
test.run()
