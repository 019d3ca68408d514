// Discovery: the registry over TCP and UDP, listen()'s registration (refresh, unregister, expiry),
// discover() and connectByService(), and a registry that hostile input cannot fill or crash.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { connectByService, discover, DiscoveryError, listen, registryServer, type Remote } from '../src/index.ts'
import { fixture, rejects, TS_EXEC_ARGV, within } from './harness.ts'

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Polls `check` until it holds (expiry is time itself: there is no event to wait for). */
async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`)
    await tick(50)
  }
}

test('a server registers, is discovered over TCP and UDP, connected by name, and leaves on close', async () => {
  const reg = await registryServer({ port: 0 })
  const registry = { port: reg.address.port }
  const server = await listen({ port: 0 }, { root: { hi: () => 'hi' }, service: 'calc', registry })
  const { port } = server.address as { port: number }
  assert.equal(await discover('calc', { registry }), [{ host: '127.0.0.1', port }])
  assert.equal(await discover('calc', { registry: { ...registry, protocol: 'udp' } }), [{ host: '127.0.0.1', port }])
  assert.equal(await discover('other', { registry }), [])
  const conn = await connectByService('calc', { registry })
  assert.is(await (conn.root as Remote<{ hi(): string }>).hi(), 'hi')
  await conn.close()
  await server.close()
  assert.equal(await discover('calc', { registry }), [])
  await reg.close()
})

test('connectByService: an unknown name and an unreachable registry reject with DiscoveryError', async () => {
  const reg = await registryServer({ port: 0 })
  const err = await rejects(connectByService('nobody', { registry: { port: reg.address.port } }), DiscoveryError)
  assert.match(err.message, /no server is registered as 'nobody'/)
  assert.is(err.code, 'ERR_DISCOVERY')
  await reg.close()
  const down = await rejects(discover('x', { registry: { port: reg.address.port } }), DiscoveryError)
  assert.match(down.message, /did not answer.*farside registry/)
  await rejects(discover('x', { registry: { port: reg.address.port, protocol: 'udp', timeout: 300 } }), DiscoveryError)
  await rejects(discover('bad name!', { registry: { port: 1 } }), TypeError)
})

test('connectByService skips a registered server that is gone and connects to one that answers', async () => {
  const reg = await registryServer({ port: 0 })
  const registry = { port: reg.address.port }
  const good = await listen({ port: 0 }, { root: { who: () => 'good' }, service: 'svc', registry })
  // a registration for a port nobody listens on, made last, so it is tried first
  const dead = net.createServer()
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r))
  const deadPort = (dead.address() as net.AddressInfo).port
  await new Promise<void>((r) => dead.close(() => r()))
  await registerRaw(reg.address.port, { op: 'register', name: 'svc', port: deadPort })
  assert.is((await discover('svc', { registry }))[0]!.port, deadPort)
  const conn = await connectByService('svc', { registry })
  assert.is(await (conn.root as Remote<{ who(): string }>).who(), 'good')
  await conn.close()
  await good.close()
  await reg.close()
})

test('a server that stops refreshing expires; one that refreshes stays', async () => {
  const reg = await registryServer({ port: 0, expiry: 1000 })
  const registry = { port: reg.address.port }
  const server = await listen({ port: 0 }, { root: {}, service: 'alive', registry })
  await registerRaw(reg.address.port, { op: 'register', name: 'once', port: 9 })
  assert.is((await discover('once', { registry })).length, 1)
  await eventually(async () => (await discover('once', { registry })).length === 0, 'the one-off registration expiring')
  // listen() refreshes every third of the expiry the registry told it
  assert.is((await discover('alive', { registry })).length, 1)
  await server.close()
  await reg.close()
})

test('a killed server process disappears after the expiry', async () => {
  const reg = await registryServer({ port: 0, expiry: 1500 })
  const registry = { port: reg.address.port }
  const child = spawn(process.execPath, [...TS_EXEC_ARGV, fileURLToPath(fixture('registered-server.ts')), String(reg.address.port)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await within(new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))), 20_000, 'the child server starting')
  assert.equal(await discover('killme', { registry }), [{ host: '127.0.0.1', port }])
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
  await eventually(async () => (await discover('killme', { registry })).length === 0, 'the killed server expiring')
  await reg.close()
})

test('the registry ignores garbage, refuses past its bound, and keeps answering', async () => {
  const reg = await registryServer({ port: 0, maxEntries: 3 })
  const registry = { port: reg.address.port }
  // UDP garbage: no answer, no crash
  const udp = dgram.createSocket('udp4')
  for (const junk of ['', 'not json', '{"m":"farside-registry/1","op":"register","name":"x","port":-1}', 'x'.repeat(4000), '[]', 'null']) {
    udp.send(Buffer.from(junk), reg.address.port, '127.0.0.1')
  }
  // TCP garbage: the connection is closed
  const sock = net.connect(reg.address.port, '127.0.0.1')
  sock.write('hello\n')
  await within(new Promise((r) => sock.once('close', r)), 5000, 'the registry dropping a garbage client')
  // an endless line is cut off too
  const long = net.connect(reg.address.port, '127.0.0.1')
  long.on('error', () => {})
  long.write('x'.repeat(5000))
  await within(new Promise((r) => long.once('close', r)), 5000, 'the registry dropping an endless line')
  for (let i = 1; i <= 3; i++) assert.equal(await registerRaw(reg.address.port, { op: 'register', name: `n${i}`, port: 1000 + i }), { ok: true, expiry: 60_000 })
  const full = await registerRaw(reg.address.port, { op: 'register', name: 'n4', port: 1004 })
  assert.is(full.ok, false)
  assert.match(String(full.error), /full/)
  // a refresh of a known entry is no new entry
  assert.is((await registerRaw(reg.address.port, { op: 'register', name: 'n1', port: 1001 })).ok, true)
  assert.is(Object.keys(reg.services()).length, 3)
  assert.equal(await discover('n2', { registry }), [{ host: '127.0.0.1', port: 1002 }])
  udp.close()
  await reg.close()
})

test('listen() refuses service options that cannot work, and fails when the registry is down', async () => {
  await rejects(listen({ path: '/tmp/x.sock' }, { root: {}, service: 'a', registry: { port: 1 } }), TypeError)
  await rejects(listen({ port: 0 }, { root: {}, service: 'a' }), TypeError)
  await rejects(listen({ port: 0 }, { root: {}, registry: { port: 1 } }), TypeError)
  await rejects(listen({ port: 0 }, { root: {}, service: 'a b', registry: { port: 1 } }), TypeError)
  const reg = await registryServer({ port: 0 })
  await reg.close()
  const err = await rejects(listen({ port: 0 }, { root: {}, service: 'a', registry: { port: reg.address.port } }), DiscoveryError)
  assert.match(err.message, /did not answer/)
})

/** One raw request over TCP, as any client of the registry may send. */
function registerRaw(port: number, req: Record<string, unknown>): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(`${JSON.stringify({ m: 'farside-registry/1', ...req })}\n`))
    s.once('data', (d: Buffer) => {
      s.destroy()
      resolve(JSON.parse(d.toString()))
    })
    s.once('error', reject)
  })
}

test.run()
