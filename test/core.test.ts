// Core behaviours that need a hand-made pair of peers: E-order of assignments, connection-wide
// timeouts, currentCall() outside a call, forwarding through a middle peer, the heartbeat.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MessageChannel } from 'node:worker_threads'
import { AbortError, ConnectionClosedError, TimeoutError, buffiter, connect, connectPort, currentCall, fork, listen, pair, spawn, withOptions, worker } from '../src/index.ts'
import { nearestName } from '../src/errors.ts'
import { rejects, within } from './harness.ts'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const test = suite('core')

test('an assignment waits its turn: a set with a pipelined value is ordered with the get after it', async () => {
  const root = { obj: { v: 0 }, async slow(x: unknown, ms: number) { await sleep(ms); return x } }
  const [a, b] = pair({}, { root, allowSet: true })
  const r = a.root as any
  r.obj.v = r.slow('x', 50)
  assert.is(await r.obj.v, 'x')
  await a.close()
  await b.closed
})

test('the connection timeout applies to every operation; withOptions overrides it', async () => {
  const root = { hang: () => new Promise(() => {}), async slow(ms: number) { await sleep(ms); return 'ok' } }
  const [a, b] = pair({ timeout: 30 }, { root })
  const r = a.root as any
  await rejects(r.hang(), TimeoutError, 'connection timeout')
  assert.is(await withOptions(r, { timeout: 2000 }).slow(60), 'ok', 'a longer limit for one view')
  assert.is(a.stats().inFlight, 0)
  await a.close()
  await b.closed
})

test('currentCall() outside a served call is a clear error', () => {
  assert.throws(() => currentCall(), /outside a call served by farside/)
})

test('a signal aborted before the call rejects without sending, with the reason as cause', async () => {
  const [a, b] = pair({}, { root: { add: (x: number, y: number) => x + y } })
  await a.ready
  const calls = a.stats().calls
  const err = await rejects(withOptions(a.root as any, { signal: AbortSignal.abort('why') }).add(1, 2), AbortError)
  assert.is(err.cause, 'why')
  assert.is(a.stats().calls, calls)
  assert.throws(() => withOptions(a.root, { timeout: -1 }), TypeError)
  assert.throws(() => withOptions(a.root, { bogus: 1 } as any), /unknown call option 'bogus'/)
  await a.close()
  await b.closed
})

test('a Remote forwarded through a middle peer is governed by its owner: class methods such as toString work', async () => {
  class Owned {
    toString() { return 'owned by A' }
    hello(n: string) { return `hello ${n}` }
    _private() { return 'no' }
  }
  // A serves Owned to B; B serves C a holder of that Remote
  const [bFromA, aSide] = pair({}, { root: { owned: () => new Owned() } })
  const owned = await (bFromA.root as any).owned()
  const [c, bSide] = pair({}, { root: { forwarded: owned } })
  const fwd = (c.root as any).forwarded
  assert.is(await fwd.toString(), 'owned by A')
  assert.is(await fwd.hello('C'), 'hello C')
  await rejects(fwd._private(), Error, 'the owner still refuses _names')
  await rejects(fwd.constructor, Error, 'and constructor')
  for (const conn of [c, bSide, bFromA, aSide]) await conn.close()
})

test('heartbeat: a silent peer closes the connection with TimeoutError; pending calls reject', async () => {
  const { port1, port2 } = new MessageChannel()
  const conn = connectPort(port1, { heartbeat: 60 })
  // the far end says hello, then nothing ever again (a frozen process)
  port2.on('message', () => {})
  port2.postMessage([16, 1, [], { root: true, heard: true }])
  await conn.ready
  const pending = rejects((conn.root as any).anything(), ConnectionClosedError, 'pending call')
  const info = await within(conn.closed, 3000, 'heartbeat close')
  assert.ok(info.error instanceof TimeoutError, 'TimeoutError is the cause')
  assert.match((info.error as Error).message, /heartbeat/)
  await pending
  port2.close()
})

test('heartbeat: a live but idle peer keeps the connection open', async () => {
  const [a, b] = pair({ heartbeat: 40 }, { root: { x: 1 } })
  await sleep(200)
  assert.not.ok(a.isClosed, 'the peer answered the probes')
  assert.is(await (a.root as any).x, 1)
  await a.close()
  await b.closed
})

test('ping({ timeout }) rejects instead of hanging on a peer that never answers', async () => {
  const { port1, port2 } = new MessageChannel()
  const conn = connectPort(port1)
  port2.on('message', () => {})
  port2.postMessage([16, 1, [], { root: true, heard: true }])
  await conn.ready
  await rejects(conn.ping({ timeout: 30 }), TimeoutError, 'ping')
  await conn.close()
  port2.close()
})

test('a misspelt option names itself and the nearest valid name, in every entry point', async () => {
  const typo = (name: string, near: string | undefined) =>
    (e: Error) => e instanceof TypeError && e.message.includes(`'${name}'`) && (near === undefined ? !e.message.includes('did you mean') : e.message.endsWith(`(did you mean '${near}'?)`))
  assert.throws(() => pair({ timout: 100 } as never), typo('timout', 'timeout'))
  assert.throws(() => pair({}, { allowset: true } as never), (e: Error) => e.message === "unknown connection option 'allowset' (did you mean 'allowSet'?)")
  assert.throws(() => pair({ limits: { maxExport: 1 } } as never), (e: Error) => e.message === "unknown limit 'limits.maxExport' (did you mean 'limits.maxExports'?)")
  assert.throws(() => pair({ sercet: 's' } as never), typo('sercet', 'secret'))
  assert.throws(() => pair({ somethingElse: 1 } as never), typo('somethingElse', undefined))
  assert.throws(() => connectPort(new MessageChannel().port1, { heartbaet: 5 } as never), typo('heartbaet', 'heartbeat'))
  // checked before anything starts: a missing file, no process, no socket, no thread left behind
  const missing = new URL('./fixtures/does-not-exist.mjs', import.meta.url)
  await rejects(worker(missing, { workerdata: 1 } as never), TypeError).then((e) => assert.ok(typo('workerdata', 'workerData')(e), e.message))
  await rejects(worker(missing, { timout: 1 } as never), TypeError).then((e) => assert.ok(typo('timout', 'timeout')(e), e.message))
  await rejects(fork(missing, [], { exec_argv: [] } as never), TypeError).then((e) => assert.ok(typo('exec_argv', 'execArgv')(e), e.message))
  await rejects(spawn('does-not-exist', [], { stdio: 'protocol', CWD: '/' } as never), TypeError).then((e) => assert.ok(typo('CWD', 'cwd')(e), e.message))
  await rejects(listen({ port: 0 }, { autenticate: () => {} } as never), TypeError).then((e) => assert.ok(typo('autenticate', 'authenticate')(e), e.message))
  await rejects(listen({ port: 0 }, { user: undefined, usres: {} } as never), TypeError).then((e) => assert.ok(typo('usres', 'users')(e), e.message))
  await rejects(connect({ port: 1 }, { tsl: {} } as never), TypeError).then((e) => assert.ok(typo('tsl', 'tls')(e), e.message))
  const [a, b] = pair({}, { root: { list: [1, 2, 3] } })
  assert.throws(() => withOptions(a.root, { timeOut: 5 } as never), (e: Error) => e.message === "unknown call option 'timeOut' (did you mean 'timeout'?)")
  assert.throws(() => buffiter((a.root as any).list, { chunks: 2 } as never), (e: Error) => e.message === "unknown buffiter option 'chunks' (did you mean 'chunk'?)")
  assert.throws(() => buffiter((a.root as any).list, { size: 2 } as never), typo('size', undefined))
  const items: unknown[] = []
  for await (const x of buffiter((a.root as any).list, { chunk: 1 })) items.push(x)
  assert.equal(items, [1, 2, 3])
  await a.close()
  await b.closed
})

test('nearestName: case-insensitive, at most 2 edits (a swap is 1), else nothing', () => {
  const known = ['timeout', 'allowSet', 'allowDelete', 'root']
  assert.is(nearestName('TIMEOUT', known), 'timeout')
  assert.is(nearestName('tiemout', known), 'timeout')
  assert.is(nearestName('tmeot', known), 'timeout')
  assert.is(nearestName('timeoutxyz', known), undefined)
  assert.is(nearestName('allowDestroy', known), undefined)
  assert.is(nearestName('allowDelte', known), 'allowDelete')
  assert.is(nearestName('rot', known), 'root')
  assert.is(nearestName('x'.repeat(10_000), known), undefined)
  assert.is(nearestName('', []), undefined)
})

test.run()
