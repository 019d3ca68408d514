// connectPort() over web-style endpoints (addEventListener, `event.data`): delivery, listener
// release on close, and the TypeError for an object of neither shape.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MessageChannel, type MessagePort as NodeMessagePort } from 'node:worker_threads'
import { ConnectionClosedError, connectPort, type WebPortLike } from '../src/index.ts'
import { HELLO, PROTOCOL_VERSION } from '../src/protocol/messages.ts'
import { within } from './harness.ts'

/** A web-style endpoint over a Node MessagePort's EventTarget side, counting its listeners. */
function webPort(port: NodeMessagePort) {
  const listeners = new Set<string>()
  let closed = 0
  const ep: WebPortLike & { listeners: Set<string>; closed(): number } = {
    postMessage: (v, t) => port.postMessage(v, t as never),
    addEventListener(type, fn) {
      listeners.add(type)
      port.addEventListener(type, fn)
    },
    removeEventListener(type, fn) {
      listeners.delete(type)
      port.removeEventListener(type, fn)
    },
    close() {
      closed++
      port.close()
    },
    listeners,
    closed: () => closed,
  }
  return ep
}

test('messages arrive as event.data: a web-style endpoint serves and calls', async () => {
  const { port1, port2 } = new MessageChannel()
  const ep = webPort(port1)
  const a = connectPort(ep, { root: { add: (x: number, y: number) => x + y } })
  const b = connectPort(port2, { root: { hi: () => 'node-style' } })
  assert.is(await (b.root as any).add(2, 3), 5)
  assert.is(await (a.root as any).hi(), 'node-style')
  await a.close()
  await within(b.closed, 2000, 'the peer seeing the goodbye')
})

test('the raw event.data is what the connection reads (not the event)', async () => {
  const { port1, port2 } = new MessageChannel()
  const conn = connectPort(webPort(port1))
  // ["hello", version, features, { root }]
  port2.postMessage([HELLO, PROTOCOL_VERSION, [], { root: false }])
  await within(conn.ready, 2000, 'handshake through event.data')
  await conn.close()
  port2.close()
})

test('close removes the listeners and closes the endpoint, once', async () => {
  const { port1, port2 } = new MessageChannel()
  const ep = webPort(port1)
  const conn = connectPort(ep)
  assert.equal([...ep.listeners].sort(), ['close', 'message'])
  await conn.close()
  await conn.close()
  assert.is(ep.listeners.size, 0, 'listeners left')
  assert.is(ep.closed(), 1, 'close() calls')
  port2.close()
})

test('a web-style endpoint that dispatches close ends the connection as the peer', async () => {
  const { port1, port2 } = new MessageChannel()
  const conn = connectPort(webPort(port1))
  port2.close()
  const info = await within(conn.closed, 2000, 'close event')
  assert.is(info.reason, 'peer')
})

test('two BroadcastChannels of one name connect; closing one end closes the other', async () => {
  const name = `farside-port-test-${process.pid}`
  // both open before either connects, or the first one's hello is lost
  const [ca, cb] = [new BroadcastChannel(name), new BroadcastChannel(name)]
  const a = connectPort(ca, { root: { ping: () => 'pong' } })
  const b = connectPort(cb)
  assert.is(await (b.root as any).ping(), 'pong')
  await b.close()
  const info = await within(a.closed, 2000, 'goodbye over the channel')
  assert.is(info.reason, 'peer')
  await rejectsClosed((a.root as any).ping())
})

test('a BroadcastChannel side that said hello before its peer listened still connects', async () => {
  const name = `farside-late-${process.pid}-${Date.now()}`
  // this side's hello goes out while no other channel of the name exists: it is lost
  const server = connectPort(new BroadcastChannel(name), { root: { add: (a: number, b: number) => a + b } })
  await new Promise((r) => setTimeout(r, 30))
  const client = connectPort(new BroadcastChannel(name), { limits: { handshakeTimeout: 2000 } })
  assert.is(await within((client.root as any).add(2, 3), 3000, 'a call after a lost hello'), 5)
  await within(server.ready, 1000, 'the first side is ready too')
  await client.close()
  await within(server.closed, 2000)
})

test('an endpoint with both shapes (a Node MessagePort) is used Node-style', async () => {
  const { port1, port2 } = new MessageChannel()
  const both = {
    postMessage: (v: unknown) => port1.postMessage(v),
    on: (ev: 'message' | 'close', fn: (v?: unknown) => void) => port1.on(ev, fn),
    off: (ev: 'message' | 'close', fn: (v?: unknown) => void) => port1.off(ev, fn),
    addEventListener: () => assert.unreachable('took the web-style path'),
    removeEventListener: () => assert.unreachable('took the web-style path'),
    close: () => port1.close(),
  }
  const a = connectPort(both)
  const b = connectPort(port2, { root: { n: 1 } })
  assert.is(await (a.root as any).n, 1)
  await a.close()
  await b.close()
})

test('neither shape: a TypeError naming both', () => {
  for (const bad of [null, 1, {}, { postMessage() {} }, { on() {}, off() {} }, { postMessage() {}, addEventListener() {} }]) {
    assert.throws(
      () => connectPort(bad as never),
      (err: Error) => err instanceof TypeError && /on, off/.test(err.message) && /addEventListener, removeEventListener/.test(err.message),
    )
  }
})

async function rejectsClosed(p: PromiseLike<unknown>) {
  try {
    await p
  } catch (err) {
    assert.ok(err instanceof ConnectionClosedError, String(err))
    return
  }
  assert.unreachable('resolved')
}

test.run()
