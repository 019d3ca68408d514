// Errors crossing a connection: cycles through cause and properties, hostile errors, and the
// stacks a rejection shows (farside's own frames stripped, the local part formatted lazily).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { inspect } from 'node:util'
import { pathToFileURL } from 'node:url'
import { pair, RemoteError } from '../src/index.ts'
import { appendLocalStack, captureCallSite, ownFilePrefixes, strip, stripOwnFrames, type CallSite } from '../src/codec/errors.ts'
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
  // each crosses as itself, not as the connection's "the error could not be sent" stand-in
  const m = await rejects(root.throwingMessage(), Error)
  assert.is(m.message, '(the message could not be read)')
  const n = await rejects(root.throwingName(), Error)
  assert.is(n.message, 'named')
  assert.type(n.name, 'string')
  const o = await rejects(root.objectMessage(), Error)
  assert.is(o.message, '(the message could not be read)')
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

test('a decoded RemoteError captures and formats no local stack of its own', async () => {
  class Custom extends Error {}
  const [a] = pair({}, { root: { fail() { throw new Custom('custom') } }, stacks: true })
  const prepare = Error.prepareStackTrace
  let decoderStacks = 0
  Error.prepareStackTrace = (e, frames) => {
    if (frames.some((f) => f.getFunctionName() === 'decodeError')) decoderStacks++
    return prepare ? prepare(e, frames) : `${e}\n${frames.map((f) => `    at ${f}`).join('\n')}`
  }
  try {
    const err = await rejects((a.root as any).fail(), RemoteError)
    assert.is(err.remoteClass, 'Custom')
    assert.match(err.stack!, /custom/)
    assert.is(decoderStacks, 0)
  } finally {
    Error.prepareStackTrace = prepare
  }
  await a.close()
})

// ---- stacks ----

const PKG = '/opt/app/node_modules/farside'
const prefixes = ownFilePrefixes(pathToFileURL(`${PKG}/dist/index.cjs`).href)
const own = (fn: string, file = 'protocol/connection.ts') => `    at ${fn} (${PKG}/src/${file}:10:5)`
const ownUrl = (fn: string) => `    at ${fn} (file://${PKG}/dist/index.js:100:7)`
const user = (fn: string) => `    at ${fn} (/opt/app/lib/service.js:3:9)`
const node = (fn: string) => `    at ${fn} (node:internal/process/task_queues:95:5)`

test('ownFilePrefixes: the package is found from src (a TS loader) and from dist, never from a bundle', () => {
  assert.equal(ownFilePrefixes(pathToFileURL(`${PKG}/src/codec/errors.ts`).href), prefixes)
  assert.equal(ownFilePrefixes(pathToFileURL(`${PKG}/dist/index.js`).href), prefixes)
  assert.equal(ownFilePrefixes(pathToFileURL(`${PKG}/dist/chunks/index-abc123.cjs`).href), prefixes)
  assert.ok(prefixes.includes(`${PKG}/src/`) && prefixes.includes(`file://${PKG}/dist/`))
  assert.equal(ownFilePrefixes(pathToFileURL('/opt/app/dist/bundle.js').href), [], 'bundled into an application file')
  assert.equal(ownFilePrefixes('data:text/javascript,1'), [])
  // and the real one: this checkout, seen from src/ under the TypeScript loader
  const here = ownFilePrefixes(new URL('../src/codec/errors.ts', import.meta.url).href)
  assert.ok(here.includes(new URL('../src/', import.meta.url).href))
})

test('strip: farside frames go anywhere, node: frames only after the last other frame', () => {
  const stack = ['TypeError: boom', '  spanning two lines', user('Service.boom'), own('handle', 'protocol/handlers.ts'), node('inMiddle'), user('Service.call'),
    ownUrl('Connection.receive'), own('MessagePort.<anonymous>', 'transport/message-port.ts'), node('emitMessage'), node('processTicksAndRejections')].join('\n')
  const r = strip(stack, true, prefixes)
  assert.is(r.text, ['TypeError: boom', '  spanning two lines', user('Service.boom'), node('inMiddle'), user('Service.call')].join('\n'))
  assert.is(r.frames, 3)
  // without trailingNode (the local part) the node frames stay
  assert.is(strip(stack, false, prefixes).frames, 5)
  // eval code run from a farside file is the user's code, not farside's
  const evalFrame = `    at eval (eval at run (${PKG}/src/classic/eval.ts:3:1), <anonymous>:1:7)`
  assert.is(strip(`Error: e\n${evalFrame}`, true, prefixes).frames, 1)
  // each section (the remote part, a previous hop's local part) loses its own trailing node frames
  const hops = ['Error: e', user('a'), node('loop'), '    --- local ---', user('b'), node('loop')].join('\n')
  assert.is(strip(hops, true, prefixes).text, ['Error: e', user('a'), '    --- local ---', user('b')].join('\n'))
})

test('stripOwnFrames keeps a stack whole rather than leave it without frames', () => {
  const here = new URL('../src/protocol/connection.ts', import.meta.url).href
  const onlyOurs = `AccessError: refused\n    at check (${here}:1:1)\n    at node:internal/x:1:1`
  assert.is(stripOwnFrames(onlyOurs), onlyOurs)
  assert.is(stripOwnFrames(`Error: e\n${user('f')}\n    at g (${here}:2:2)`), `Error: e\n${user('f')}`)
})

/** A remote-looking error whose stack is a plain string, and a site whose formatting is counted. */
function fixture(remote: string, local: string) {
  const err = Object.create(TypeError.prototype) as Error
  Object.defineProperty(err, 'stack', { value: remote, writable: true, configurable: true })
  let reads = 0
  const site: CallSite = { get stack() { reads++; return local } }
  return { err, site, reads: () => reads }
}

test('appendLocalStack is lazy: nothing is formatted until stack is read, then once', () => {
  const { err, site, reads } = fixture(`TypeError: boom\n${user('Service.boom')}`, `Error\n${user('theCaller')}`)
  appendLocalStack(err, site)
  assert.is(reads(), 0, 'appending formats nothing')
  assert.equal(Reflect.ownKeys(err), ['stack'], 'nothing else shows on the error')
  assert.ok(typeof Object.getOwnPropertyDescriptor(err, 'stack')!.get === 'function')
  assert.is(err.stack, `TypeError: boom\n${user('Service.boom')}\n    --- local ---\n${user('theCaller')}`)
  assert.is(reads(), 1)
  const d = Object.getOwnPropertyDescriptor(err, 'stack')!
  assert.is(d.value, err.stack, 'a data property once built')
  assert.not.ok(d.enumerable)
  assert.is(reads(), 1, 'built once')
  // frozen before the first read: the accessor cannot turn into data, it still builds once
  const f = fixture('TypeError: boom', `Error\n${user('theCaller')}`)
  appendLocalStack(f.err, f.site)
  Object.freeze(f.err)
  assert.is(f.err.stack, f.err.stack)
  assert.match(f.err.stack!, /theCaller/)
  assert.is(f.reads(), 1)
})

test('appendLocalStack: V8 formats a captured site only when the stack is read', () => {
  const prepare = Error.prepareStackTrace
  let formatted = 0
  Error.prepareStackTrace = (e, frames) => {
    formatted++
    return `Error\n${frames.map((f) => `    at ${f}`).join('\n')}`
  }
  try {
    function theCallingSite() {
      return captureCallSite()
    }
    const site = theCallingSite()
    const { err } = fixture(`TypeError: boom\n${user('Service.boom')}`, '')
    appendLocalStack(err, site)
    assert.is(formatted, 0, 'capturing and appending format nothing')
    assert.match(err.stack!, /--- local ---\n {4}at theCallingSite/)
    assert.is(formatted, 1)
  } finally {
    Error.prepareStackTrace = prepare
  }
})

test('appendLocalStack: strips farside frames from both parts, appends once, can be overwritten', () => {
  const here = (fn: string, f: string) => `    at ${fn} (${new URL(`../src/${f}`, import.meta.url).href}:1:1)`
  const remote = ['TypeError: boom', user('Service.boom'), here('handle', 'protocol/handlers.ts'), node('emitMessage')].join('\n')
  const local = ['Error', here('op', 'protocol/connection.ts'), here('apply', 'proxy/remote.ts'), user('theCaller')].join('\n')
  const { err, site } = fixture(remote, local)
  appendLocalStack(err, site)
  appendLocalStack(err, { stack: `Error\n${user('second')}` })
  assert.is(err.stack, ['TypeError: boom', user('Service.boom'), '    --- local ---', user('theCaller')].join('\n'))
  err.stack = 'replaced'
  assert.is(err.stack, 'replaced')
  // a string site (a stack formatted by the caller) works too
  const s = fixture('Error: e', '')
  appendLocalStack(s.err, `Error\n${user('f')}`)
  assert.is(s.err.stack, `Error: e\n    --- local ---\n${user('f')}`)
  // nothing to append: no site, stacks switched off, not an Error
  const off = fixture('Error: e', '')
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 0
  try {
    appendLocalStack(off.err, captureCallSite())
  } finally {
    Error.stackTraceLimit = limit
  }
  appendLocalStack(off.err, undefined)
  appendLocalStack('x', `Error\n${user('f')}`)
  assert.is(off.err.stack, 'Error: e')
})

test('captureCallSite(below) starts at the frame that called below', () => {
  function publicApi() {
    return captureCallSite(publicApi)
  }
  function theUser() {
    return publicApi()
  }
  const deep = (n: number): CallSite => (n === 0 ? theUser() : deep(n - 1))
  const stack = String(deep(20).stack)
  assert.not.match(stack, /publicApi/)
  assert.match(stack.split('\n')[1]!, /at theUser/)
  assert.is(stack.split('\n').length - 1, 8, 'at most 8 frames by default')
  const limit = Error.stackTraceLimit
  Error.stackTraceLimit = 30
  try {
    assert.ok(String(deep(20).stack).split('\n').length - 1 > 20, 'a raised limit is honoured')
  } finally {
    Error.stackTraceLimit = limit
  }
})

test('a rejection shows the remote frames and the calling site, not the receive loop', async () => {
  const [a] = pair({ localStacks: true }, { root: new Thrower(), stacks: true })
  // the local part lists the async functions awaiting the call (V8's async stack trace)
  async function theCallingSite() {
    return await (a.root as any).mutualCause()
  }
  const err = await rejects(theCallingSite(), TypeError)
  const stack = err.stack!
  const [remote, local] = stack.split('\n    --- local ---\n') as [string, string]
  assert.ok(local !== undefined, stack)
  assert.match(remote, /at Thrower\.mutualCause/)
  assert.match(local, /at async theCallingSite/)
  const src = new URL('../src/', import.meta.url)
  for (const line of stack.split('\n')) {
    assert.not.ok(line.includes(src.pathname) || line.includes(src.href), `a farside frame: ${line}`)
  }
  assert.not.match(remote, /node:/, 'no receive loop frames')
  assert.match(inspect(err), /--- local ---/, 'util.inspect shows the whole stack')
  await a.close()
  // without a local part the sender has already stripped the remote part
  const [b] = pair({ localStacks: false }, { root: new Thrower(), stacks: true })
  const plain = await rejects((b.root as any).mutualCause(), TypeError)
  assert.match(plain.stack!, /at Thrower\.mutualCause/)
  assert.not.ok(plain.stack!.includes(src.pathname) || plain.stack!.includes(src.href), plain.stack)
  assert.not.match(plain.stack!, /node:/)
  await b.close()
})

test.run()
