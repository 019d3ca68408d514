// The package as npm publishes it: `npm pack` (whose prepack builds dist/) into a temporary
// folder, the tarball installed by name into a project of its own and used from ESM and
// CommonJS, its types checked by attw (both module systems) and its package.json by publint.
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { checkReport } from '../browser/check-report.mjs'
import { launch } from '../browser/chromium.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = (name) => join(root, 'node_modules', '.bin', name)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
// run from `npm test`, npm's own variables (npm_config_local_prefix above all) would point the
// inner npm at this repository instead of the temporary project
const env = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !/^(npm_(package_|lifecycle_|command$|config_(local_prefix|call)$)|INIT_CWD$)/i.test(k)),
)
const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })

const tmp = mkdtempSync(join(tmpdir(), 'farside-pack-'))
try {
  // --silent keeps prepack's banner out of the JSON on stdout
  const [info] = JSON.parse(run(npm, ['pack', '--json', '--silent', '--pack-destination', tmp], root))
  const files = info.files.map((f) => f.path)
  for (const f of ['package.json', 'README.md', 'LICENSE', 'dist/index.js', 'dist/index.cjs', 'dist/index.d.ts', 'dist/index.d.cts', 'dist/cli.js', 'dist/bench-worker.js', 'dist/bench-child.js', 'dist/isolate-child.js', 'dist/isolate-child.cjs', 'dist/isolate-worker.js', 'dist/isolate-worker.cjs']) {
    assert.ok(files.includes(f), `the tarball lacks ${f}: ${files.join(', ')}`)
  }
  assert.deepEqual(files.filter((f) => /^(src|test|bench|examples|node_modules)\//.test(f)), [], 'sources or tests in the tarball')
  const tarball = join(tmp, info.filename)

  const app = join(tmp, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  const install = ['install', tarball, '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts']
  try {
    // the dependencies are in npm's cache after `npm ci`: no network
    run(npm, [...install, '--offline'], app)
  } catch {
    run(npm, [...install, '--prefer-offline'], app)
  }
  const installed = join(app, 'node_modules', 'farside')
  for (const f of ['dist/index.d.ts', 'dist/index.d.cts']) {
    assert.doesNotMatch(readFileSync(join(installed, f), 'utf8'), /@internal/, `${f} shows @internal members`)
  }

  writeFileSync(join(app, 'esm.mjs'), [
    `import { pair, ConnectionClosedError } from 'farside'`,
    `const [a, b] = pair({}, { root: { add: (x, y) => x + y } })`,
    `if ((await a.root.add(2, 3)) !== 5) throw new Error('esm: wrong sum')`,
    `await a.close()`,
    `await b.closed`,
    `if (typeof ConnectionClosedError !== 'function') throw new Error('esm: no error classes')`,
    `console.log('esm ok')`,
  ].join('\n'))
  writeFileSync(join(app, 'cjs.cjs'), [
    `const { pair } = require('farside')`,
    `;(async () => {`,
    `  const [a, b] = pair({}, { root: { add: (x, y) => x + y } })`,
    `  if ((await a.root.add(2, 3)) !== 5) throw new Error('cjs: wrong sum')`,
    `  await a.close()`,
    `  await b.closed`,
    `  console.log('cjs ok')`,
    `})().catch((err) => { console.error(err); process.exit(1) })`,
  ].join('\n'))
  assert.equal(run(process.execPath, ['esm.mjs'], app).trim(), 'esm ok')
  assert.equal(run(process.execPath, ['cjs.cjs'], app).trim(), 'cjs ok')
  assert.match(run(join(app, 'node_modules', '.bin', 'farside'), ['--version'], app), /\d+\.\d+\.\d+/)
  await benchFromTheInstall(app, tmp)

  // the installed bin serving a module with a worker per client; the module imports farside
  // itself, and must get the very copy that serves it (currentCall() sees the call)
  writeFileSync(join(app, 'svc.mjs'), `import { currentCall } from 'farside'\nexport default { inCall: () => currentCall() !== undefined }\n`)
  writeFileSync(join(app, 'client.mjs'), [
    `import { connect } from 'farside'`,
    `const conn = await connect({ port: Number(process.argv[2]) })`,
    `if ((await conn.root.inCall()) !== true) throw new Error('the module got a copy of farside of its own')`,
    `await conn.close()`,
    `console.log('isolated ok')`,
  ].join('\n'))
  for (const isolate of ['worker', 'process']) {
    const serve = spawn(join(app, 'node_modules', '.bin', 'farside'), ['serve', '--port', '0', '--module', './svc.mjs', '--isolate', isolate, '--json'], { cwd: app, env, stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await new Promise((resolve, reject) => {
      serve.stdout.once('data', (d) => resolve(String(d)))
      serve.once('exit', (code) => reject(new Error(`farside serve exited (${code})`)))
    })
    assert.equal(run(process.execPath, ['client.mjs', String(JSON.parse(line).port)], app).trim(), 'isolated ok')
    const exited = new Promise((resolve) => serve.once('exit', resolve))
    serve.kill('SIGTERM')
    assert.equal(await exited, 0)
  }

  // attw on the tarball just packed is `attw --pack .` without building a second time
  const checks = [
    ['attw', [tarball, '--format', 'ascii']],
    ['publint', [installed, '--pack', 'false', '--strict']],
  ]
  for (const [name, args] of checks) {
    try {
      const out = run(bin(name), args, root)
      // publint lists suggestions without failing: clean means none
      assert.doesNotMatch(out, /Suggestions?:|Warnings?:|Errors?:/, `${name}:\n${out}`)
    } catch (err) {
      console.error(`${name} found problems:\n${err.stdout ?? ''}${err.stderr ?? ''}${err.stdout === undefined ? err.message : ''}`)
      throw err
    }
  }
  console.log(`dist-pack: 1 passed, 0 failed (${info.filename}, ${files.length} files, ${Math.round(info.size / 1024)} KiB; attw and publint clean; farside bench ran from the install)`)
} finally {
  rmSync(tmp, { recursive: true, force: true })
}

/**
 * `farside bench` as a user runs it from the installed package (no dev dependencies, so no peer
 * libraries): a short run over three transports, TLS among them (its certificate made at run
 * time), then the JSON's figures and the HTML report opened in headless Chromium.
 */
async function benchFromTheInstall(app, tmp) {
  const json = join(tmp, 'bench.json')
  const html = join(tmp, 'bench.html')
  const args = ['bench', '--quick', '--transports', 'pair,worker,tls', '--payloads', '1,64k', '--json', json, '--html', html]
  const out = run(join(app, 'node_modules', '.bin', 'farside'), args, app)
  assert.match(out, /latency, 1 call in flight/)
  assert.match(out, /tls\s+farside/)
  const report = JSON.parse(readFileSync(json, 'utf8'))
  assert.deepEqual(report.transports.map((t) => t.id), ['pair', 'worker', 'tls'], out)
  for (const t of report.transports) {
    assert.deepEqual(t.rows.map((r) => [r.kind, r.error]), [['farside', undefined], ['raw', undefined]], `${t.id}: ${out}`)
  }
  assert.ok(report.notes.some((n) => /peers not installed/.test(n)), 'the peers are noted as absent')
  const browser = await launch()
  try {
    await checkReport(await browser.newPage(), pathToFileURL(html).href, report)
  } finally {
    await browser.close()
  }
}
