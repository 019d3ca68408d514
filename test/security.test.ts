// The access policy against the escapes a hostile peer would try, and the faults it could cause.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { AccessError, ProtocolError, deliver, expose, get, obtain, pair, ref, release, type Connection } from '../src/index.ts'
import { rejects } from './harness.ts'
import { Service } from './fixtures/service.ts'

// sloppy-mode code, where a null `this` is the global object
const sloppyFluent = new Function('n', 'this.name = n; return this') as (n: string) => unknown

test('call, apply, bind and toString of functions are refused: no choosing `this`, no source', async () => {
  const [a] = pair({}, { root: { setName: sloppyFluent, add: (x: number, y: number) => x + y } })
  const r = a.root as any
  // with a `this` other than the owner (or null), the proxy sends these names to the peer
  const other = { name: 'other' }
  await rejects(r.setName.call(other, 'x'), AccessError, 'call')
  await rejects(r.setName.apply(other, ['x']), AccessError, 'apply')
  await rejects(r.add.bind(other), AccessError, 'bind')
  // with null, the proxy does them itself: the peer runs the method with its owner as `this`
  await r.setName.call(null, 'x')
  await r.setName.apply(null, ['y'])
  await rejects(r.add.toString(), AccessError, 'toString')
  await rejects(r.valueOf(), AccessError, 'valueOf')
  // eslint-disable-next-line no-prototype-builtins -- the remote member of that name is the attack
  await rejects(r.hasOwnProperty('add'), AccessError, 'hasOwnProperty')
  assert.is((globalThis as any).name, undefined, 'the global object was not touched')
  assert.is(await r.add(1, 2), 3)
  await a.close()
})

test('a class may still define members with those names', async () => {
  class Doc {
    toString() {
      return 'doc'
    }
  }
  const [a] = pair({}, { root: new Doc() })
  assert.is(await (a.root as any).toString(), 'doc')
  await a.close()
})

test('numeric names follow expose() like the same names as strings', async () => {
  const users = expose([{ name: 'guest' }, { name: 'admin' }], { allow: ['0', 'length'] })
  const [a] = pair({}, { root: { users: ref(users) } })
  const r = a.root as any
  assert.is(await get<any>(r.users, 0).name, 'guest')
  await rejects(get(r.users, 1), AccessError)
  await rejects(r.users['1'], AccessError)
  await a.close()
})

test('obtain() copies only what the policy shows', async () => {
  class Account {
    pub = 1
    _apiKey = 'secret'
    hidden = 'denied'
  }
  const [a] = pair({}, { root: { account: expose(new Account(), { deny: ['hidden'] }) } })
  assert.equal(await obtain((a.root as any).account), { pub: 1 })
  await a.close()
})

test('a peer cannot replace a name it did not attach', async () => {
  const svc = new Service()
  const [a, b] = pair({}, { root: svc })
  b.export('db', { query: () => 'real' })
  const theirs = a.root // the serving side's own root: a peer may attach it under a free name
  await rejects(a.attach(theirs, 'db'), AccessError)
  await a.attach(theirs, 'mine')
  await a.attach(theirs, 'mine') // its own name: fine
  // a copy it delivered is its own data, never the serving side's object: refused outright
  const fake = await deliver(a, { query: 'fake' })
  await rejects(a.attach(fake, 'mine2'), TypeError)
  assert.is(await (a.fetch('db') as any).query(), 'real')
  await a.close()
  await b.closed
})

test('an error whose properties name __proto__ keeps its prototype', async () => {
  const [a] = pair({}, { root: { fail() { const e = new TypeError('x'); Object.defineProperty(e, '__proto__', { value: { evil: true }, enumerable: true }); throw e } } })
  const err = await rejects((a.root as any).fail(), TypeError)
  assert.ok(err instanceof Error)
  assert.is((err as any).evil, undefined)
  await a.close()
})

test('a promise that settles to something that cannot cross rejects over there; no crash here', async () => {
  const [a] = pair({}, { root: { later: () => ({ p: Promise.resolve(Symbol('no')) }) } })
  const { p } = await (a.root as any).later()
  await rejects(p, TypeError)
  assert.is(await a.ping().then(() => 'alive'), 'alive')
  await a.close()
})

test('an application ProtocolError is a value, not a broken connection', async () => {
  const [a, b] = pair({}, { root: { relay: (f: () => unknown) => f() } })
  const failing = (a.root as any).relay(() => { throw new ProtocolError('app-level') })
  await rejects(failing.length, ProtocolError)
  assert.not.ok(b.isClosed)
  assert.is(await a.ping().then(() => 'alive'), 'alive')
  await a.close()
})

test('operations queued before close() still reach the peer', async () => {
  const log: string[] = []
  const [a, b] = pair({}, { root: { log: (s: string) => log.push(s) } })
  await a.ready
  ;(a.root as any).log('last words')
  await a.close()
  await b.closed
  assert.equal(log, ['last words'])
})

test('release() of a member is refused: it would release the object it was read from', async () => {
  const [a] = pair({}, { root: new Service() })
  const c = await (a.root as any).getShared()
  assert.throws(() => release(c.inc), TypeError)
  assert.is(await c.inc(0), 100)
  await a.close()
})

test('a refused pipelined result, pulled later, rejects; the connection stays', async () => {
  const [a, b]: Connection[] = pair({}, { root: new Service(), limits: { maxInFlight: 1 } })
  const r = a.root as any
  const hung = r.hang()
  hung.catch(() => {})
  const p = r.makeNode(1)
  const child = p.child(2) // p built on: kept (not pulled) by the peer - or refused
  await new Promise((res) => setTimeout(res, 20))
  await rejects(p, ReferenceError, 'pull of a refused result')
  await rejects(child, ReferenceError)
  assert.not.ok(b.isClosed)
  await a.close()
})

test.run()

