// The conformance suite: the same behaviour tests over every transport in harness.ts.
import { inspect } from 'node:util'
import * as assert from 'uvu/assert'
import {
  AbortError, AccessError, ConnectionClosedError, RemoteError, TimeoutError, buffiter, connectionOf, deliver, get, has,
  isRemote, keys, obtain, release, same, set, withOptions,
} from '../src/index.ts'
import { transports, rejects, within, collect, peerSuite, type PeerContext } from './harness.ts'
import type { Service, Counter, Node } from './fixtures/service.ts'
import type { Remote } from '../src/index.ts'

for (const transport of transports) {
  const t = peerSuite('conformance', transport)

  // each test also checks that nothing this side asked for is still pending when it is done
  const test = (name: string, fn: (ctx: PeerContext) => Promise<void>) =>
    t(name, async (ctx) => {
      await fn(ctx)
      assert.is(ctx.conn.stats().inFlight, 0, 'calls left in flight')
    })

  test('calls methods with primitive arguments', async ({ root }) => {
    assert.is(await root.add(1, 2), 3)
    assert.is(await root.echo('text'), 'text')
    assert.is(await root.echo(10n), 10n)
    assert.is(await root.echo(undefined), undefined)
    assert.is(await root.echo(null), null)
    assert.is(await root.later('async', 1), 'async')
  })

  test('reads properties, nested ones and missing ones', async ({ root }) => {
    assert.is(await root.version, 1)
    assert.is(await root.nested.deep.value, 42)
    assert.is(await (root as any).missing, undefined)
    const err = await rejects((root as any).missing(), TypeError, 'calling a missing method')
    assert.match(err.message, /missing is not a function/)
  })

  test('pipelines: operations on unresolved results', async ({ root }) => {
    assert.is(await root.makeNode(1).child(2).value, 12)
    assert.is(await root.makeNode(1).child(2).child(3).double, 246)
    const node = root.makeNode(5)
    const [a, b] = await Promise.all([node.child(1).value, node.child(2).value])
    assert.equal([a, b], [51, 52])
    // an unresolved result as an argument
    assert.is(await root.readValue(root.makeNode(9) as any), 9)
  })

  test('constructs remote classes', async ({ root }) => {
    const c = await new root.Counter(10)
    assert.ok(isRemote(c))
    assert.is(await c.inc(5), 15)
    assert.is(await c.count, 15)
  })

  test('plain data crosses by value, deeply', async ({ root }) => {
    const d = await root.data()
    assert.ok(d.date instanceof Date && d.date.getTime() === 0)
    assert.ok(d.re instanceof RegExp && d.re.flags === 'g')
    assert.ok(d.map instanceof Map)
    assert.equal(d.map.get(1), { a: 1 })
    assert.equal([...d.set], [1, 2])
    assert.ok(d.bytes instanceof Uint8Array)
    assert.equal([...d.bytes], [1, 2, 3])
    assert.is(d.big, 10n)
    assert.ok('undef' in d && d.undef === undefined)
    assert.is(d.nul, null)
    assert.equal(d.nested, [1, [2, [3]]])
    assert.ok(d.err instanceof RangeError)
    assert.is(d.err.message, 'as data')
    // a class instance inside by-value data crosses as a Remote in its place
    assert.ok(isRemote(d.node))
    assert.is(await d.node.value, 7)
    const echoed = await root.echo({ list: [1, 'two', { three: 3 }], when: new Date(5) })
    assert.equal(echoed, { list: [1, 'two', { three: 3 }], when: new Date(5) })
  })

  test('cycles, sharing and the marker key survive', async ({ root }) => {
    const c = await root.cyclic()
    assert.is(c.a.self, c.a)
    assert.is(c.again, c.a)
    const local: Record<string, unknown> = { n: 1 }
    local.me = local
    const back = (await root.echo(local)) as Record<string, unknown>
    assert.is(back.me, back)
    assert.equal(await root.tagged(), { '\u0000': 'r', i: 1, inner: { '\u0000': 'b' } })
    assert.equal(await root.echo({ '\u0000': 'b', i: 0 }), { '\u0000': 'b', i: 0 })
  })

  test('class instances cross by reference, with identity', async ({ root }) => {
    const a = await root.getShared()
    const b = await root.getShared()
    assert.ok(isRemote(a))
    assert.is(a, b, 'the same remote object is the same proxy')
    assert.ok(same(a, b))
    assert.is(connectionOf(a), connectionOf(root))
    // a Remote sent back to its owner arrives as the original object
    assert.is(await root.isShared(a), true)
    assert.is(await root.same(a, b), true)
    assert.is(await root.echo(a), a)
    // a local object sent out and back arrives as itself
    class Local { x = 1; m() { return 2 } }
    const mine = new Local()
    assert.is(await root.echo(mine), mine)
    assert.is(await root.same(mine, mine), true)
    assert.is(await root.readValue(mine as any), undefined, 'value is not a member of Local: undefined over there')
  })

  test('callbacks call home', async ({ root }) => {
    assert.is(await root.callback((x) => x * 2, 21), 42)
    assert.is(await root.callbackAsync(async (x) => x + 1, 1), 4)
    const got = new Promise<string>((resolve) => void root.callLater(resolve))
    assert.is(await within(got, 5000, 'callback later'), 'late')
    // a callback that throws: the error travels back to the caller over there, then here
    const err = await rejects(root.callback(() => { throw new RangeError('from home') }, 1), RangeError)
    assert.is(err.message, 'from home')
  })

  test('promises cross by reference and settle later', async ({ root }) => {
    const { p } = await root.withPromise(7)
    assert.ok(p instanceof Promise)
    assert.is(await p, 7)
  })

  test('errors keep class, message, code, cause and the remote stack', async ({ root }) => {
    const te = await rejects(root.throwType(), TypeError)
    assert.is(te.message, 'bad type')
    assert.match(te.stack ?? '', /throwType/)
    const ce = await rejects(root.throwCustom(), RemoteError)
    assert.is(ce.name, 'Error')
    assert.is(ce.remoteClass, 'MyError')
    assert.is(ce.message, 'custom')
    assert.is((ce as any).code, 'E_CUSTOM')
    assert.equal((ce as any).extra, { a: 1 })
    assert.ok(ce.cause instanceof RangeError)
    assert.is((ce.cause as Error).message, 'inner')
    try {
      await root.throwString()
      assert.unreachable()
    } catch (e) {
      assert.is(e, 'just a string')
    }
    const re = await rejects(root.rejectLater(), RangeError)
    assert.is(re.message, 'async range')
    // a failed step fails the pipelined steps after it
    await rejects((root as any).throwType().value, TypeError)
  })

  test('iterates remote iterables in chunks', async ({ root }) => {
    const out: number[] = []
    for await (const x of root.range(50)) out.push(x as number)
    assert.equal(out, Array.from({ length: 50 }, (_, i) => i))
    const aout: number[] = []
    for await (const x of root.arange(5)) aout.push(x as number)
    assert.equal(aout, [0, 1, 2, 3, 4])
    const big: number[] = []
    for await (const x of buffiter(root.list(3000), { chunk: 100, max: 1000 })) big.push(x as number)
    assert.is(big.length, 3000)
    assert.is(big[2999], 2999)
    // breaking out closes the remote iterator
    const before = await root.closedIterators
    for await (const x of root.guarded(100)) if ((x as number) >= 3) break
    assert.is(await root.closedIterators, before + 1)
    assert.throws(() => buffiter(root, { chunk: 0 }), RangeError)
  })

  test('registry: fetch, browse, attach', async ({ conn, root }) => {
    const names = await conn.browse()
    assert.ok(names.includes('counter'))
    const counter = await conn.fetch('counter')
    assert.is(counter, await root.getShared())
    await rejects(conn.fetch('nope'), ReferenceError)
    const node = await root.makeNode(3)
    await conn.attach(node, 'node3')
    assert.ok((await conn.browse()).includes('node3'))
    assert.is(await conn.fetch<Node>('node3').value, 3)
    await rejects(conn.attach({}, 'x'), TypeError)
  })

  test('access policy: the far side reaches only what it was given', async ({ root }) => {
    await rejects((root as any)._secret, AccessError, '_secret')
    await rejects((root as any).constructor.constructor('return process')(), AccessError, 'constructor escape')
    await rejects((root as any).add.constructor('return process')(), AccessError, 'function constructor')
    await rejects((root as any).__proto__, AccessError, '__proto__')
    await rejects((root as any).nested.__defineGetter__, AccessError, '__defineGetter__')
    await rejects((root as any).prototype, AccessError, 'prototype')
    await rejects(set(root, 'version', 2), AccessError, 'set')
    assert.is(await root.version, 1)
    assert.is(await has(root, 'version'), true)
    assert.is(await has(root, '_secret'), false)
    const k = await keys(root)
    assert.ok(k.includes('add') && k.includes('version'))
    assert.not.ok(k.includes('_secret') || k.includes('constructor'))
  })

  test('obtain and deliver copy by value', async ({ conn, root }) => {
    assert.equal(await obtain(root.makeNode(3)), { value: 3 })
    assert.equal(await obtain(root.nested), { deep: { value: 42 } })
    await rejects(obtain(root.getShared().inc as any), TypeError, 'obtain a function')
    const r = await deliver(conn, { a: 1, list: [1, 2] })
    assert.ok(isRemote(r))
    assert.is(await r.a, 1)
    assert.equal(await obtain(r), { a: 1, list: [1, 2] })
  })

  test('release lets go of a remote object', async ({ root }) => {
    await collect()
    const before = (await root.stats()).exported
    const node = await root.makeNode(4)
    assert.is((await root.stats()).exported, before + 1)
    release(node)
    release(node)
    await rejects(node.value, ReferenceError, 'after release')
    // releases travel in the next batch: a round trip later they have been applied
    assert.is((await root.stats()).exported, before)
  })

  test('a get of a property named then needs get()', async ({ root }) => {
    assert.is(await get(root, 'then'), undefined)
    const c = await root.getShared()
    assert.is((c as any).then, undefined, 'a settled Remote is not thenable')
  })

  test('large by-value payloads cross intact', async ({ root }) => {
    const bytes = await root.big(4 << 20)
    assert.is(bytes.length, 4 << 20)
    assert.is(bytes[12345], 7)
    const sent = new Uint8Array(1 << 20).fill(3)
    const back = (await root.echo(sent)) as Uint8Array
    assert.is(back.length, 1 << 20)
    assert.is(back[99], 3)
  })

  test('dropped remotes are released by garbage collection', async ({ root }) => {
    await collect()
    const base = (await root.stats()).exported
    // in a function of its own, so that no suspended frame here still holds the last batch
    const churn = async () => {
      for (let round = 0; round < 5; round++) {
        const batch = []
        for (let i = 0; i < 200; i++) batch.push(root.makeNode(i))
        await Promise.all(batch)
      }
    }
    await churn()
    await collect()
    await root.add(0, 0)
    assert.is((await root.stats()).exported, base)
  })

  test('a hung call rejects when the connection closes; later calls reject at once', async () => {
    const peer = await within(transport.start(), 20000, 'second peer')
    const r = peer.conn.root as Remote<Service>
    assert.is(await r.add(2, 2), 4)
    const hung = r.hang()
    const hungDone = rejects(hung, ConnectionClosedError, 'hung call')
    await peer.close()
    await hungDone
    await rejects(r.add(1, 1), ConnectionClosedError, 'call after close')
    const info = await peer.conn.closed
    assert.is(info.reason, 'local')
  })

  test('E-order: operations on one target run in the order sent, also behind a pipelined argument', async ({ root }) => {
    void root.record(root.later('A', 50))
    void root.record('B')
    void root.record(root.later('C', 10))
    void root.record('D')
    assert.equal(await root.logged(), ['A', 'B', 'C', 'D'])
    // other targets are not held up: a fresh object's calls run at once
    const c = await new root.Counter(0)
    void root.record(root.later('slow', 50))
    assert.is(await c.inc(), 1)
    assert.equal(await root.logged(), ['slow'])
  })

  test('a timed-out call rejects at once with TimeoutError and is cancelled on the peer', async ({ root }) => {
    await collect()
    await root.add(0, 0)
    const base = (await root.stats()).exported
    const err = await rejects(withOptions(root, { timeout: 30 }).waitOrCancel(5000), TimeoutError, 'timed-out call')
    assert.match(err.message, /timed out after 30 ms/)
    assert.is(err.code, 'ERR_TIMEOUT')
    // the callee saw its signal abort; its late answer (none here) would be dropped
    assert.equal(await root.takeCancelled(), ['AbortError'])
    // the view's options carry to pipelined operations, the original is unchanged
    const pipelined = () => rejects(withOptions(root, { timeout: 30 }).nodeLater(1, 5000).value, TimeoutError, 'pipelined')
    await pipelined()
    assert.is(await root.later('unchanged', 40), 'unchanged')
    // the unawaited nodeLater() stays on the peer (for pipelining) until its proxies are collected
    await collect()
    await root.add(0, 0)
    assert.is((await root.stats()).exported, base, 'the peer holds nothing for cancelled calls')
  })

  test('an AbortSignal cancels a call; an aborted one is not sent', async ({ root, conn }) => {
    const controller = new AbortController()
    const view = withOptions(root, { signal: controller.signal })
    const pending = view.waitOrCancel(5000)
    setTimeout(() => controller.abort(new Error('stop')), 20)
    const err = await rejects(pending, AbortError, 'aborted call')
    assert.is((err.cause as Error).message, 'stop')
    assert.equal(await root.takeCancelled(), ['AbortError'])
    const calls = conn.stats().calls
    await rejects(view.add(1, 2), AbortError, 'call on an aborted signal')
    assert.is(conn.stats().calls, calls, 'nothing was sent')
    // currentCall() read after an await inside the callee sees the cancel too
    const c2 = new AbortController()
    const late = withOptions(root, { signal: c2.signal }).waitOrCancelLate(5000)
    setTimeout(() => c2.abort(), 20)
    await rejects(late, AbortError, 'aborted late call')
    assert.equal(await root.takeCancelled(), ['AbortError'])
  })

  test('a late answer to a cancelled call is dropped and its references released', async ({ root }) => {
    const base = (await root.stats()).exported
    // the callee ignores its signal and answers with a reference after the caller gave up
    await rejects(withOptions(root, { timeout: 10 }).nodeLater(3, 60), TimeoutError, 'timed out')
    await new Promise((r) => setTimeout(r, 120))
    await root.add(0, 0)
    assert.is((await root.stats()).exported, base, 'no reference left behind on the peer')
  })

  test('iteration honours a signal and closes the remote iterator', async ({ root }) => {
    const controller = new AbortController()
    const before = await root.closedIterators
    const seen: number[] = []
    const loop = (async () => {
      for await (const x of withOptions(root, { signal: controller.signal }).guarded(1_000_000)) {
        seen.push(x)
        if (seen.length === 5) controller.abort()
      }
    })()
    await rejects(loop, AbortError, 'aborted loop')
    await new Promise((r) => setTimeout(r, 20))
    assert.is(await root.closedIterators, before + 1, 'the remote iterator was closed')
  })

  test('ping({ timeout }) resolves against a live peer', async ({ conn }) => {
    assert.type(await conn.ping({ timeout: 5000 }), 'number')
  })

  test('deliver() gives a Remote of the copy; reading it back gives its value', async ({ root, conn }) => {
    const remote = await deliver(conn, { a: 1, list: [1, 2] })
    assert.ok(isRemote(remote))
    assert.equal(await root.echo(remote), { a: 1, list: [1, 2] }, 'the delivered copy is plain data again over there')
    assert.equal(await obtain(remote), { a: 1, list: [1, 2] })
  })

  test('says what it is: conn.transport, util.inspect of Remotes, clear errors for coercion', async ({ root, conn }) => {
    assert.is(conn.transport, transport.kind)
    const via = [conn.transport, conn.peer].filter(Boolean).join(' ')
    assert.is(inspect(root), `Remote root (${via})`)
    const node = await root.makeNode(1)
    assert.match(inspect(node), new RegExp(`^Remote #\\d+ \\(${via.replace(/[.[\]]/g, '\\$&')}\\)$`))
    assert.match(inspect(root.makeNode(2).child(0)), /^RemotePromise root\.makeNode\(…\)\.child\(…\) \(pending, /)
    // coercing one to a primitive or to JSON says to await it, instead of a bare "Cannot convert"
    const pending = root.version
    for (const coerce of [() => `${pending as unknown as string}`, () => String(node), () => 1 + (pending as unknown as number), () => JSON.stringify({ node })]) {
      const err = (() => { try { coerce() } catch (e) { return e } })()
      assert.instance(err, TypeError)
      assert.match((err as Error).message, /await it first|copy it here with `await obtain\(r\)`/)
    }
    await pending
    release(node)
  })

  t.run()
}

// keep the Counter type import used for readers of the suite
export type { Counter }
