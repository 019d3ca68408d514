// bind, call and apply of remote functions, done on the caller's side: the peer's policy refuses
// those names, so they must never reach it, while a remote object's own `call` or `bind` method
// is still called remotely.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { AccessError, pair, type Remote } from '../src/index.ts'
import { rejects } from './harness.ts'

class Counter {
  n = 0
  inc(by = 1) {
    return (this.n += by)
  }
  sum(...xs: number[]) {
    return xs.reduce((a, b) => a + b, this.n)
  }
}

/** An object whose own members have Function.prototype's names (a socket has `bind(port)`). */
class Dialer {
  call(x: unknown) {
    return `called ${String(x)}`
  }
  apply(x: unknown, y: unknown) {
    return `applied ${String(x)} ${String(y)}`
  }
  bind(port: number) {
    return `bound to ${port}`
  }
}

class Point {
  constructor(
    public x: number,
    public y: number,
  ) {}
}

function setUp() {
  const invoked: string[] = []
  const add = (a: number, b: number) => a + b
  // own members of these names are visible to the peer: if a bind/call/apply op reached it, they
  // would run and be recorded
  for (const name of ['bind', 'call', 'apply'] as const) {
    Object.defineProperty(add, name, {
      value: () => {
        invoked.push(name)
        return -1
      },
    })
  }
  const root = { add, counter: new Counter(), dialer: new Dialer(), Point, makeCounter: () => new Counter() }
  const [a, b] = pair({}, { root })
  return { r: a.root as Remote<typeof root>, invoked, a, b }
}

test('bind returns a callable Remote of the method, with its owner as `this`', async () => {
  const { r, invoked, a } = setUp()
  const add = r.add.bind(r)
  assert.is(await add(1, 2), 3)
  assert.is(await r.add.bind(undefined)(2, 3), 5)
  assert.is(await r.add.bind(null)(3, 4), 7)
  const inc = r.counter.inc.bind(r.counter)
  await inc(2)
  assert.is(await inc(3), 5, 'the remote counter kept its own `this`')
  const counter = await r.counter
  assert.is(await counter.inc.bind(counter)(), 6, 'bound on a settled Remote')
  const fn = await r.add
  assert.is(fn.bind(null), fn, 'a settled remote function bound to nothing new is itself')
  assert.equal(invoked, [], 'no bind reached the peer')
  await a.close()
})

test('bind with partial arguments prepends them; bound classes construct', async () => {
  const { r, invoked, a } = setUp()
  const add10 = r.add.bind(r, 10)
  assert.is(await add10(5), 15)
  assert.is(await r.counter.sum.bind(r.counter, 1, 2)(3), 6)
  const PointAt1 = r.Point.bind(null, 1) as unknown as new (y: number) => PromiseLike<Point>
  const p = await new PointAt1(2)
  assert.equal([await (p as any).x, await (p as any).y], [1, 2])
  assert.equal(invoked, [], 'no bind reached the peer')
  await a.close()
})

test('call and apply with the owner, undefined or null as `this` are plain calls', async () => {
  const { r, invoked, a } = setUp()
  assert.is(await r.add.call(r, 1, 2), 3)
  assert.is(await r.add.call(undefined, 2, 2), 4)
  assert.is(await r.add.apply(r, [3, 4]), 7)
  assert.is(await r.add.apply(null, [4, 4]), 8)
  assert.is(await r.counter.inc.call(r.counter, 2), 2)
  assert.is(await r.counter.sum.apply(r.counter, [1, 1]), 4)
  const counter = await r.counter
  assert.is(await counter.inc.call(counter, 1), 3, 'on a settled Remote')
  // on a pending result: pipelined, the owner is the same pending result
  const fresh = r.makeCounter()
  assert.is(await fresh.inc.call(fresh, 7), 7)
  assert.equal(invoked, [], 'no call or apply reached the peer')
  await a.close()
})

test("a remote object's own call, apply and bind methods are still called remotely", async () => {
  const { r, a } = setUp()
  assert.is(await r.dialer.call(5), 'called 5')
  assert.is(await r.dialer.call('x'), 'called x')
  assert.is(await r.dialer.apply(1, 2), 'applied 1 2')
  assert.is(await r.dialer.bind(8080), 'bound to 8080')
  await a.close()
})

test('with another `this`, the names go to the peer, whose policy still refuses them', async () => {
  const { r, a } = setUp()
  const counter = await r.makeCounter()
  // the inc of one counter cannot be called on another: `this` is the owner over there
  await rejects(r.counter.inc.call(counter as any, 1), AccessError, 'call with another this')
  await rejects(r.counter.inc.bind(counter as any) as any, AccessError, 'bind to another this')
  await a.close()
})

test.run()
