// Errors crossing a connection: cycles through cause and properties, hostile errors, and the
// stacks a rejection shows (farside's own frames stripped, the local part formatted lazily).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { pair, RemoteError } from '../src/index.ts'
import { rejects } from './harness.ts'

class Thrower {
  selfCause(): never {
    const e = new Error('loop')
    e.cause = e
    throw e
  }
  mutualCause(): never {
    const a = new TypeError('a')
    const b = new RangeError('b')
    a.cause = b
    b.cause = a
    throw a
  }
  selfProperty(): never {
    const e = Object.assign(new Error('self'), { self: undefined as unknown, nested: { list: [] as unknown[] } })
    e.self = e
    e.nested.list.push(e)
    throw e
  }
  throwingMessage(): never {
    const e = new Error('x')
    Object.defineProperty(e, 'message', { get() { throw new Error('no message for you') } })
    throw e
  }
  throwingName(): never {
    const e = new Error('named')
    Object.defineProperty(e, 'name', { get() { throw new Error('no name for you') } })
    throw e
  }
  objectMessage(): never {
    const e = new Error('x')
    Object.defineProperty(e, 'message', { value: { toString() { throw new Error('unprintable') } } })
    throw e
  }
  numberMessage(): never {
    const e = new Error('x')
    Object.defineProperty(e, 'message', { value: 42 })
    throw e
  }
  throwingStackAndCause(): never {
    const e = new Error('getters')
    Object.defineProperty(e, 'stack', { get() { throw new Error('no stack') } })
    Object.defineProperty(e, 'cause', { get() { throw new Error('no cause') } })
    Object.defineProperty(e, 'detail', { enumerable: true, get() { throw new Error('no detail') } })
    throw e
  }
  throwingConstructor(): never {
    const e = new Error('ctor')
    Object.defineProperty(e, 'constructor', { get() { throw new Error('no constructor') } })
    throw e
  }
}

function connect() {
  const [a] = pair({}, { root: new Thrower(), stacks: true })
  return { conn: a, root: a.root as any }
}

test('an error that is its own cause crosses with the cycle intact', async () => {
  const { conn, root } = connect()
  const err = await rejects(root.selfCause(), Error)
  assert.is(err.message, 'loop')
  assert.ok(err.cause === err, 'cause is the error itself')
  await conn.close()
})

test('two errors that are each other\'s cause cross as two errors pointing at each other', async () => {
  const { conn, root } = connect()
  const a = await rejects(root.mutualCause(), TypeError)
  const b = a.cause as Error
  assert.ok(b instanceof RangeError)
  assert.is(b.message, 'b')
  assert.ok(b.cause === a)
  await conn.close()
})

test('an error whose own properties refer back to it keeps those references', async () => {
  const { conn, root } = connect()
  const err = await rejects(root.selfProperty(), Error) as Error & { self: unknown; nested: { list: unknown[] } }
  assert.ok(err.self === err)
  assert.ok(err.nested.list[0] === err)
  await conn.close()
})

test('hostile errors: throwing or odd message/name getters do not break the encoder', async () => {
  const { conn, root } = connect()
  const m = await rejects(root.throwingMessage(), Error)
  assert.type(m.message, 'string')
  const n = await rejects(root.throwingName(), Error)
  assert.is(n.message, 'named')
  assert.type(n.name, 'string')
  const o = await rejects(root.objectMessage(), Error)
  assert.type(o.message, 'string')
  const num = await rejects(root.numberMessage(), Error)
  assert.is(num.message, '42')
  const g = await rejects(root.throwingStackAndCause(), Error)
  assert.is(g.message, 'getters')
  assert.not.ok('cause' in g)
  assert.not.ok('detail' in g)
  const c = await rejects(root.throwingConstructor(), Error)
  assert.is(c.message, 'ctor')
  // the connection still serves
  await rejects(root.selfCause(), Error)
  await conn.close()
})

test.run()
