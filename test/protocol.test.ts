// Protocol-level behaviour over an in-process channel whose batches the test can see and forge.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MessageChannel } from 'node:worker_threads'
import {
  AccessError, ConnectionClosedError, ProtocolError, connectPort, expose, pair, ref, copy, transfer, del, set,
  keys, isRemote, release, PROTOCOL_VERSION, Registry,
} from '../src/index.ts'
import { rejects, within } from './harness.ts'
import { HELLO, OPS, OP_CODE, RELEASE, RET, SDATA, SMORE, messageLength } from '../src/protocol/messages.ts'
import { Outbox, Soon } from '../src/protocol/outbox.ts'
import { Service } from './fixtures/service.ts'

/** A pair whose batches from a to b are recorded (flat arrays: tag, fields, tag, ...). */
function tappedPair(rootB: object, optionsB = {}) {
  const { port1, port2 } = new MessageChannel()
  const sent: unknown[][] = []
  const received: unknown[][] = []
  /** Both directions in the order they happened: true for a batch a sent; when (performance.now()). */
  const log: [boolean, unknown[], number][] = []
  const tap = {
    postMessage(v: unknown, t?: readonly any[]) {
      sent.push(v as unknown[])
      log.push([true, v as unknown[], performance.now()])
      port1.postMessage(v, t as any)
    },
    on(ev: 'message' | 'close', fn: (v: unknown) => void) {
      port1.on(ev, ev === 'message' ? (v: unknown) => { received.push(v as unknown[]); log.push([false, v as unknown[], performance.now()]); fn(v) } : fn)
      return tap
    },
    off() {
      return tap
    },
    close() {
      port1.close()
    },
  }
  const a = connectPort(tap as any)
  const b = connectPort(port2, { root: rootB, ...optionsB })
  return { a, b, sent, received, log }
}

const TAG_NAMES: Record<number, string> = { ...Object.fromEntries(OPS.map((op, i) => [i, op])), 16: 'hello', 17: 'pull', 18: 'ret', 19: 'throw', 20: 'settle', 21: 'release', 22: 'bye' }

/** The message tags of a flat batch, by name, in order. */
function tags(batch: unknown[]): string[] {
  const out: string[] = []
  for (let i = 0; i < batch.length; i += messageLength(batch, i)) out.push(TAG_NAMES[batch[i] as number]!)
  return out
}

test('a 3-step pipelined chain is one batch each way', async () => {
  const { a, b, sent, received } = tappedPair(new Service())
  await a.ready
  sent.length = 0
  received.length = 0
  assert.is(await (a.root as any).makeNode(1).child(2).child(3).value, 123)
  assert.equal(tags(sent[0]!), ['call', 'call', 'call', 'get'], 'the whole chain left in one batch')
  for (const later of sent.slice(1)) assert.equal(tags(later), ['release'], 'then only the release of the result')
  // the peer's answer to our HELLO may still come in after ready: it is the handshake, not the chain
  const back = received.filter((batch) => batch[0] !== HELLO)
  assert.is(back.length, 1, 'one batch back')
  // only the awaited result crossed back; the intermediate nodes stayed over there
  assert.equal(tags(back[0]!), ['ret'])
  await a.close()
  await b.closed
})

test('a thousand calls in one tick leave in a few batches of whole messages, in order, each answered', async () => {
  const { a, b, sent } = tappedPair(new Service())
  await a.ready
  sent.length = 0
  const r = a.root as any
  const got = await Promise.all(Array.from({ length: 1000 }, (_, i) => r.add(i, 1)))
  assert.equal(got, Array.from({ length: 1000 }, (_, i) => i + 1))
  const calls = sent.filter((batch) => tags(batch).includes('call'))
  assert.ok(calls.length > 1 && calls.length < 20, `the calls left in parts, not one batch nor one each (${calls.length} batches)`)
  // every part is whole messages (tags() would throw on a cut one), and the ids run in order
  const ids = calls.flatMap((batch) => {
    const out: unknown[] = []
    for (let i = 0; i < batch.length; i += messageLength(batch, i)) out.push(batch[i + 1])
    return out
  })
  assert.is(ids.length, 1000)
  assert.equal(ids, [...ids].sort((x, y) => (y as number) - (x as number)), 'in the order they were made (request ids count down)')
  await a.close()
  await b.closed
})

test('an awaited result the peer forgot can still be built on: the work waits for it here', async () => {
  const { a, b, sent } = tappedPair(new Service())
  await a.ready
  const r = a.root as any
  const hops = async () => {
    for (let i = 0; i < 4; i++) await null
  }
  // awaited before its batch left, and not built on: sent with pull 2, answered and forgotten
  const p = r.makeNode(3)
  const q = r.throwType()
  const first = Promise.all([p, q.catch((e: unknown) => e)])
  await hops()
  assert.ok(sent.some((batch) => batch.includes(2)), 'sent in drop mode')
  // built on after its batch left, before the answer came: deferred here, then sent on from the value
  const later = [p.child(1).value, p.child(1).child(2).value, r.readValue(p), q.value.catch((e: unknown) => e)]
  const [node, err] = await first
  assert.is(await node.value, 3)
  assert.ok(err instanceof TypeError)
  const [v1, v2, v3, e2] = await Promise.all(later)
  assert.equal([v1, v2, v3], [31, 312, 3])
  assert.ok(e2 instanceof TypeError)
  await a.close()
  await b.closed
})

test('results used only as targets are released when dropped', async () => {
  const { a, b } = tappedPair(new Service())
  const gc = (globalThis as any).gc as () => void
  const run = async () => {
    for (let i = 0; i < 50; i++) await (a.root as any).makeNode(i).child(1).value
  }
  await a.ping()
  const base = b.stats().exported // the ping's own result, not yet released
  await run()
  for (let i = 0; i < 4; i++) {
    gc()
    await new Promise((r) => setTimeout(r, 20))
  }
  await a.ping()
  assert.is(b.stats().exported, base)
  await a.close()
})

test('both sides serve roots: callbacks and calls go both ways', async () => {
  const [a, b] = pair({ root: { name: () => 'a' } }, { root: { name: () => 'b', askBack: (r: any) => r.name() } })
  assert.is(await (a.root as any).name(), 'b')
  assert.is(await (b.root as any).name(), 'a')
  assert.is(await (a.root as any).askBack(a.root), 'b', 'a Remote of b sent to b arrives as the original')
  // b.root is a's root: sent over a it crosses as a forwarding reference, and still reaches a
  assert.is(await (a.root as any).askBack(b.root), 'a')
  await a.close()
})

test('a side without a root refuses operations on it', async () => {
  const [a, b] = pair()
  await rejects((a.root as any).anything(), AccessError)
  await a.close()
  await b.closed
})

test('allowSet and allowDelete open set and delete; assignment is ordered', async () => {
  const obj = { x: 1, y: 2 }
  const [a] = pair({}, { root: obj, allowSet: true, allowDelete: true })
  const r = a.root as any
  r.x = 5
  assert.is(await r.x, 5, 'the set went before the get')
  await set(r, 'y', 7)
  assert.is(obj.y, 7)
  assert.is(await del(r, 'y'), true)
  assert.not.ok('y' in obj)
  await rejects(set(r, '_hidden', 1), AccessError)
  await rejects(set(r, '__proto__', {}), AccessError)
  assert.is(({} as any).polluted, undefined)
  await a.close()
})

test('a failed assignment is reported on the error event', async () => {
  const [a, b] = pair({}, { root: { x: 1 } })
  const errors: unknown[] = []
  a.on('error', (e) => errors.push(e))
  ;(a.root as any).x = 2
  await a.ping()
  assert.is(errors.length, 1)
  assert.ok(errors[0] instanceof AccessError)
  await a.close()
  await b.closed
})

test('expose() narrows what one object shows, and never widens', async () => {
  const obj = expose({ a: 1, b: 2, c: 3, _d: 4 }, { allow: ['a', 'b', '_d'], deny: ['b'] })
  const [x] = pair({}, { root: obj })
  const r = x.root as any
  assert.is(await r.a, 1)
  await rejects(r.b, AccessError)
  await rejects(r.c, AccessError)
  await rejects(r._d, AccessError)
  assert.equal(await keys(r), ['a'])
  assert.throws(() => expose({}, { allow: 'a' as any }), TypeError)
  await x.close()
})

test('ref() sends plain data by reference; copy() sends an instance by value', async () => {
  class Point {
    constructor(public x: number, public y: number) {}
  }
  const [a] = pair({}, { root: { give: (v: unknown) => v, plain: ref({ n: 1 }), point: copy(new Point(1, 2)) } })
  const r = a.root as any
  const plain = await r.plain
  assert.ok(isRemote(plain))
  assert.is(await plain.n, 1)
  const point = await r.point
  assert.not.ok(isRemote(point))
  assert.equal(point, { x: 1, y: 2 })
  await a.close()
})

test('transfer() moves buffers over a MessagePort', async () => {
  const [a] = pair({}, { root: { size: (b: Uint8Array) => b.byteLength } })
  const buf = new Uint8Array(1024)
  assert.is(await (a.root as any).size(transfer(buf, [buf.buffer])), 1024)
  assert.is(buf.byteLength, 0, 'detached here: it moved')
  await a.close()
})

test('symbols cannot cross; the call fails, the connection stays', async () => {
  const [a] = pair({}, { root: new Service() })
  await rejects((a.root as any).echo(Symbol('s')), TypeError)
  assert.is(await (a.root as any).add(1, 1), 2)
  await a.close()
})

test('a shared Registry: what one connection attaches, another fetches', async () => {
  const registry = new Registry()
  const svc = new Service()
  const [a1] = pair({}, { root: svc, registry })
  const [a2] = pair({}, { root: svc, registry })
  const node = await (a1.root as any).makeNode(8)
  await a1.attach(node, 'eight')
  assert.equal(registry.browse(), ['eight'])
  assert.is(await (a2.fetch('eight') as any).value, 8)
  assert.is(a1.unexport('none'), false)
  await a1.close()
  await a2.close()
})

test('a pending result has local catch and finally, like any promise', async () => {
  const [a] = pair({}, { root: new Service() })
  const r = a.root as any
  let finished = false
  const caught = await r.throwType().catch((e: Error) => e)
  assert.ok(caught instanceof TypeError)
  assert.is(await r.add(1, 2).finally(() => (finished = true)), 3)
  assert.ok(finished)
  await a.close()
})

test('a remote error carries both stacks, the remote one and the calling site (localStacks: false turns it off)', async () => {
  const [a] = pair({}, { root: new Service() })
  async function theCallingSite() {
    return await (a.root as any).throwType()
  }
  const err = await rejects(theCallingSite(), TypeError)
  assert.match(err.stack!, /throwType/, 'the remote part')
  assert.match(err.stack!, /--- local ---[\s\S]*theCallingSite/, 'the local part')
  const [b] = pair({ localStacks: false }, { root: new Service() })
  const plain = await rejects((b.root as any).throwType(), TypeError)
  assert.not.match(plain.stack!, /--- local ---/, 'off when asked')
  await a.close()
  await b.close()
})

test('bad options are refused clearly', () => {
  assert.throws(() => pair({ root: 5 as any }), /options.root/)
  assert.throws(() => pair({ allowSet: 'yes' as any }), /allowSet/)
  assert.throws(() => pair({ limits: { maxExports: -1 } }), /maxExports/)
  assert.throws(() => connectPort({} as any), /MessagePort-like/)
})

// ---- faults over a raw port: the peer is hand-written, so it can misbehave ----

function rawPeer(options = {}) {
  const { port1, port2 } = new MessageChannel()
  const conn = connectPort(port1, { root: new Service(), ...options })
  return { conn, port: port2 }
}

// heard: this peer had the connection's HELLO first, so the connection sends no answer
const hello = [HELLO, PROTOCOL_VERSION, [], { root: false, heard: true }]

test('a malformed frame closes the connection with ProtocolError', async () => {
  for (const junk of ['not a batch', [42], ['get', 1], [OP_CODE.call, -1], [OP_CODE.call, -1, 0, 'add', 1, 5, 1], [RET]]) {
    const { conn, port } = rawPeer()
    port.postMessage([...hello])
    port.postMessage(junk)
    const info = await within(conn.closed, 2000, 'close on junk')
    assert.is(info.reason, 'error')
    assert.ok(info.error instanceof ProtocolError, String(junk))
    port.close()
  }
})

test('a wrong protocol version is refused with ProtocolError', async () => {
  const { conn, port } = rawPeer()
  port.postMessage([HELLO, 99, [], { root: false }])
  const info = await within(conn.closed, 2000)
  assert.ok(info.error instanceof ProtocolError)
  assert.match((info.error as Error).message, /version mismatch/)
  await rejects(conn.ready, ConnectionClosedError)
  port.close()
})

test('a handshake that never comes times out with ProtocolError', async () => {
  const { conn, port } = rawPeer({ limits: { handshakeTimeout: 50 } })
  const pending = (conn.root as any).x
  const info = await within(conn.closed, 2000)
  assert.ok(info.error instanceof ProtocolError)
  assert.match((info.error as Error).message, /handshake/)
  await rejects(pending, ConnectionClosedError)
  port.close()
})

test('a release of more references than were sent is a protocol error', async () => {
  const { conn, port } = rawPeer()
  port.postMessage([...hello, OP_CODE.call, -1, 0, 'makeNode', 1, 1, 1])
  const reply = await within(new Promise<unknown[]>((r) => port.once('message', (m) => (m[0] === HELLO ? port.once('message', r) : r(m)))), 2000)
  assert.is(reply[0], RET)
  const id = (reply[2] as any)['\u0000'] === 'r' ? (reply[2] as any).i : NaN
  assert.ok(id > 0)
  port.postMessage([RELEASE, id, 5])
  const info = await within(conn.closed, 2000)
  assert.ok(info.error instanceof ProtocolError)
  port.close()
})

test('limits: maxInFlight and maxExports refuse the operation, not the connection', async () => {
  const [a, b] = pair({}, { root: new Service(), limits: { maxInFlight: 2, maxExports: 50 } })
  const r = a.root as any
  const hung = [r.hang(), r.hang()]
  hung.forEach((p) => p.then(() => {}, () => {}))
  const err = await rejects(r.later(1), ProtocolError)
  assert.match(err.message, /in flight/)
  assert.not.ok(a.isClosed)
  await a.close()
  await b.closed
  const [c, d] = pair({}, { root: new Service(), limits: { maxExports: 50 } })
  const many = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => (c.root as any).makeNode(i)))
  assert.ok(many.some((s) => s.status === 'rejected' && /exports/.test(String((s as PromiseRejectedResult).reason))))
  assert.ok(many.some((s) => s.status === 'fulfilled'))
  for (const s of many) if (s.status === 'fulfilled') release(s.value)
  assert.is(await (c.root as any).add(1, 2), 3, 'the connection still serves')
  await c.close()
  await d.closed
})


test('a stream read here yields to calls: while calls cross, at most 32 KiB of it is on its way', async () => {
  const { a, log } = tappedPair(new Service())
  const root = a.root as any
  try {
    const r = (await root.streams.endless(64 * 1024)) as AsyncIterable<Buffer> & { destroy(): void }
    // credit given by a and bytes a took, in the order they happened: at each grant, what is on its
    // way is the credit given minus the bytes taken. Only grants within 5 ms of a call a made count
    // while calling: the rule holds for 10 ms after a call, and a loaded machine can pause longer
    // than that between two calls (then the window rightly grows back for a while).
    let granted = 0
    let taken = 0
    let seen = 0
    let lastCall = -Infinity
    const onTheWay = (whileCalling = false): number[] => {
      const out: number[] = []
      for (; seen < log.length; seen++) {
        const [mine, batch, at] = log[seen]!
        for (let i = 0; i < batch.length; i += messageLength(batch, i)) {
          if (!mine && batch[i] === SDATA) taken += (batch[i + 2] as Uint8Array).length
          if (mine && batch[i] === OP_CODE.call) lastCall = at
          if (mine && batch[i] === SMORE) {
            granted += batch[i + 2] as number
            if (!whileCalling || at - lastCall < 5) out.push(granted - taken)
          }
        }
      }
      return out
    }
    await new Promise((resolve) => setTimeout(resolve, 30))
    // no calls: the window grows past 64 KiB (the default's most is 1 MiB)
    let read = 0
    const it = r[Symbol.asyncIterator]()
    const quiet: number[] = []
    while (read < 16 * 2 ** 20) {
      read += (await it.next()).value.length
      quiet.push(...onTheWay())
    }
    assert.ok(Math.max(...quiet) > 512 * 1024, `with no calls the window grew to ${Math.max(...quiet)} bytes on the way`)
    // a reader as fast as before, and sequential calls meanwhile: once the credit given before
    // the first call is used up, every grant keeps at most 32 KiB on its way
    const calling: number[] = []
    let reading = true
    const calls = (async () => {
      for (let i = 0; reading; i++) {
        assert.is(await root.add(i, 1), i + 1)
        calling.push(...onTheWay(true))
      }
    })()
    for (const end = read + 16 * 2 ** 20; read < end; ) read += (await it.next()).value.length
    reading = false
    await calls
    calling.push(...onTheWay(true))
    assert.ok(calling.length > 16, `${calling.length} grants while calling`)
    const late = calling.slice(calling.findIndex((x) => x <= 32 * 1024))
    assert.ok(late.length > 16 && Math.max(...late) <= 32 * 1024, `on the way while calling: ${calling.join(', ')}`)
    r.destroy()
  } finally {
    await a.close()
  }
})


test('credit that comes with a call while calls cross: the reply leaves before the producer makes more', async () => {
  const { conn, port } = rawPeer()
  const batches: unknown[][] = []
  let arrived: () => void = () => {}
  port.on('message', (m: unknown[]) => {
    if (m[0] === HELLO) return
    batches.push(m)
    arrived()
  })
  const next = async (): Promise<unknown[]> => {
    while (batches.length === 0) await within(new Promise<void>((r) => (arrived = r)), 2000, 'a batch from the connection')
    return batches.shift()!
  }
  const tags = (batch: unknown[]): number[] => {
    const out: number[] = []
    for (let i = 0; i < batch.length; i += messageLength(batch, i)) out.push(batch[i] as number)
    return out
  }
  // a batch: credit for the stream, then one add(1, 2) call as `rid`
  const creditAndCall = (sid: number, rid: number) => [SMORE, -sid, 4096, OP_CODE.call, rid, 0, 'add', 1, 2, 1, 2]
  try {
    port.postMessage([...hello, OP_CODE.call, -1, 0, ['streams', 'endless'], 1, 1, 1024])
    const reply = await next()
    assert.is(reply[0], RET)
    const sid = (reply[2] as any).i as number
    assert.ok(sid > 0)
    // no calls for a while: the credit wakes the producer at once, and its data leaves with the reply
    await new Promise((resolve) => setTimeout(resolve, 40))
    port.postMessage(creditAndCall(sid, -2))
    const calm = await next()
    assert.equal(tags(calm).slice(0, 2), [RET, SDATA], `calm: ${tags(calm)}`)
    // calls cross (one answered just now): the reply leaves on its own, the data after it
    port.postMessage([OP_CODE.call, -3, 0, 'add', 1, 2, 1, 2])
    assert.equal(tags(await next()), [RET])
    port.postMessage(creditAndCall(sid, -4))
    const first = await next()
    assert.equal(tags(first), [RET], `while calling, the first batch: ${tags(first)}`)
    assert.is(first[1], -4)
    assert.ok(tags(await next()).includes(SDATA), 'the stream data follows')
  } finally {
    await conn.close()
    port.close()
  }
})

test('a batch that cannot be sent whole goes message by message, each moving only its own buffers', () => {
  const sent: [unknown[], readonly unknown[] | undefined][] = []
  const transport = {
    start() {},
    close() {},
    bytesIn: 0,
    bytesOut: 0,
    send(data: unknown[], transfer?: readonly unknown[]) {
      // as structured clone would refuse one value; nothing is sent (or moved) then
      if (data.includes('cannot be cloned')) throw new TypeError('cannot be cloned')
      sent.push([data, transfer])
    },
  }
  const failed: unknown[][] = []
  const outbox = new Outbox(transport as any, { ready: () => true, closed: () => false, kept() {}, failed: (m) => void failed.push(m) })
  const a = new Uint8Array(8)
  const b = new Uint8Array(8)
  outbox.push(Soon.Reply, SDATA, 1, a)
  outbox.push(Soon.Reply, RET, -1, 'cannot be cloned')
  outbox.push(Soon.Reply, SDATA, 2, { nested: [b] })
  outbox.transfer([a.buffer, b.buffer])
  outbox.flush()
  assert.equal(failed, [[RET, -1, 'cannot be cloned']])
  assert.is(sent.length, 2)
  assert.equal(sent[0]![0], [SDATA, 1, a])
  assert.equal(sent[0]![1], [a.buffer])
  assert.equal(sent[1]![1], [b.buffer])
})

test.run()
