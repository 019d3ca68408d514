// Findings of an attacker's review of serving safely. Each test asserts the SAFE behaviour: it
// fails while the finding stands.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { deserialize } from 'node:v8'
import { connect, deliver, listen, type Address } from '../src/index.ts'
import { HELLO, OP_CODE, PROTOCOL_VERSION, SETTLE, messageLength } from '../src/protocol/messages.ts'
import { TAG } from '../src/codec/codec.ts'
import { testCert, within, frame } from './harness.ts'

const hello = [HELLO, PROTOCOL_VERSION, [], { root: true, heard: true }]
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const service = () => ({
  add: (a: number, b: number) => a + b,
  echo: (x: unknown) => x,
  big: (n: number) => 'x'.repeat(n),
  len: (s: string) => s.length,
  wait: (p: Promise<unknown>) => p,
  // answers after k turns of the event loop: answers of several calls leave in separate writes
  bigSoon: async (n: number, k: number) => {
    for (let i = 0; i < k; i++) await new Promise((r) => setImmediate(r))
    return 'x'.repeat(n)
  },
})

/** A raw TCP client: write bytes, read frames back, list the messages (tag and fields) it got. */
async function rawClient(address: Address) {
  const { port } = address as { port: number }
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((r) => socket.once('connect', () => r()))
  let buffered = Buffer.alloc(0)
  const messages: unknown[][] = []
  socket.on('data', (d) => {
    buffered = Buffer.concat([buffered, d])
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const batch = deserialize(buffered.subarray(4, 4 + buffered.readUInt32BE(0))) as unknown[]
      buffered = buffered.subarray(4 + buffered.readUInt32BE(0))
      for (let i = 0; i < batch.length;) {
        const n = Math.max(1, messageLength(batch, i))
        messages.push(batch.slice(i, i + n))
        i += n
      }
    }
  })
  socket.on('error', () => {})
  const closed = new Promise<void>((r) => socket.once('close', () => r()))
  return { socket, messages, closed }
}

const isOpTag = (t: unknown) => typeof t === 'number' && t >= 0 && t <= 14

// ---------------------------------------------------------------------------------------------
const t = suite('review/thenables')

// An error crosses by value and its own enumerable properties with it (marker 'e', field p):
// decodeError() defines `then` from the wire on the rebuilt Error, and nothing notes it as a
// wire thenable (noteThen runs for arrays and plain objects only). So a decoded Error whose
// `then` is a Remote of the peer's is a thenable the server adopts.
t('a by-value error whose `then` is a Remote is data: the server never calls it (ping)', async () => {
  const server = await listen({ port: 0 }, { root: service() })
  const raw = await rawClient(server.address as Address)
  const err = { [TAG]: 'e', c: 'Error', n: 'Error', m: 'boo', p: { then: { [TAG]: 'r', i: 1 } } }
  // [ping, rid -1, target 0, path [], pull 1, argc -1, encoded [err]]
  raw.socket.write(frame([...hello, OP_CODE.ping, -1, 0, [], 1, -1, { [TAG]: 'v', v: [err] }]))
  await sleep(500)
  const ops = raw.messages.filter((m) => isOpTag(m[0]))
  assert.equal(ops, [], `the server called the peer's \`then\`: ${JSON.stringify(ops.map((m) => m.slice(0, 4)))}`)
  raw.socket.destroy()
  await server.close()
})

t('a SETTLE whose value is an error with a `then` Remote is not adopted by the server', async () => {
  const server = await listen({ port: 0 }, { root: service() })
  const raw = await rawClient(server.address as Address)
  // root.wait(promise of the peer's), then settle it with the error
  raw.socket.write(frame([...hello, OP_CODE.call, -1, 0, 'wait', 1, -1, { [TAG]: 'v', v: [{ [TAG]: 'p', i: 5 }] }]))
  await sleep(100)
  const err = { [TAG]: 'e', c: 'Error', n: 'Error', m: 'boo', p: { then: { [TAG]: 'r', i: 1 } } }
  raw.socket.write(frame([SETTLE, 5, 1, err]))
  await sleep(500)
  const ops = raw.messages.filter((m) => isOpTag(m[0]))
  assert.equal(ops, [], `the server called the peer's \`then\`: ${JSON.stringify(ops.map((m) => m.slice(0, 4)))}`)
  raw.socket.destroy()
  await server.close()
})

t.run()

// ---------------------------------------------------------------------------------------------
const r = suite('review/registry')

// hold (deliver()) exports whatever the peer sent by reference; attach() then finds it in the
// export table and takes it for "the serving side's own object". README: a peer cannot "attach
// its own or by-value data".
r("deliver() then attach(): a client cannot put its own object in the shared registry", async () => {
  const server = await listen({ port: 0 }, { root: service() })
  const a = await connect(server.address as Address)
  const b = await connect(server.address as Address)
  const held = await deliver(a, { hello: () => 'from client A, not the server' })
  let refused = false
  try {
    await a.attach(held, 'logger')
  } catch {
    refused = true
  }
  const names = await b.browse()
  assert.ok(refused && !names.includes('logger'), `client A attached its own object; client B sees ${JSON.stringify(names)}`)
  await a.close()
  await b.close()
  await server.close()
})

r('deliver() then attach(): a client cannot park by-value data in the shared registry', async () => {
  const server = await listen({ port: 0 }, { root: service() })
  const a = await connect(server.address as Address)
  const held = await deliver(a, { then: 'not yours', blob: 'x'.repeat(1024) })
  let refused = false
  try {
    await a.attach(held, 'shared')
  } catch {
    refused = true
  }
  assert.ok(refused && !server.registry.has('shared'), 'a by-value object (with a `then`) is in the registry')
  await a.close()
  await server.close()
})

r.run()

// ---------------------------------------------------------------------------------------------
const c = suite('review/connections')

// listen()'s accept(): `socket = given` (the socket authenticate returned), then
// `pending.delete(socket)` in finally deletes the wrapper, not the socket that was added.
c('authenticate() returning a wrapping socket does not leak a pending slot', async () => {
  const { key, cert } = await testCert()
  const ctx = tls.createSecureContext({ key, cert })
  const server = await listen({ port: 0 }, {
    root: service(),
    limits: { maxConnections: 2 },
    heartbeat: false,
    authenticate: (socket) => {
      // a STARTTLS-like wrapper: the documented "or a wrapped one"
      const wrapped = new tls.TLSSocket(socket, { isServer: true, secureContext: ctx })
      return wrapped
    },
  })
  const opts = { tls: { ca: cert, servername: 'localhost' } }
  for (let i = 0; i < 3; i++) {
    const conn = await within(connect(server.address as Address, opts), 5000, `client ${i}`)
    assert.is(await (conn.root as any).add(i, 1), i + 1)
    // the client is a connection now, no longer a socket being authenticated
    assert.is(server.pending.size, 0, `sockets left "authenticating" after their handshake: ${server.pending.size}`)
    await conn.close()
    await within((async () => {
      while (server.connections.size > 0) await sleep(10)
    })(), 5000, 'the connection to go')
  }
  await server.close()
})

// maxConnections counts connections still in their handshake the same as authenticated ones, and
// a stranger keeps a slot for limits.handshakeTimeout (30 s) by sending nothing: with a secret,
// maxConnections strangers who know nothing lock out every client who knows it.

c.run()

// ---------------------------------------------------------------------------------------------
const l = suite('review/legitimate-load')

// StreamTransport.send() closes the connection as soon as more than maxOutgoingBytes wait,
// without waiting for 'drain': a client that reads as fast as it can still cannot take a few
// large answers at once.
l('four 16 MiB answers at once over TCP, default limits', async () => {
  const server = await listen({ port: 0 }, { root: service() })
  const conn = await connect(server.address as Address)
  const root = conn.root as any
  const n = 16 * 1024 * 1024 - 64
  const got = await within(Promise.all([0, 1, 2, 3].map((k) => root.bigSoon(n, k))), 20_000, 'the answers').catch((e: Error) => e)
  assert.ok(Array.isArray(got), `failed: ${(got as Error).message}`)
  assert.equal((got as string[]).map((s) => s.length), [n, n, n, n])
  await conn.close()
  await server.close()
})

l('a client sending 80 MiB of arguments (80 calls of 1 MiB) in one tick, default limits', async () => {
  const server = await listen({ port: 0 }, { root: service() })
  const conn = await connect(server.address as Address)
  const root = conn.root as any
  const chunk = 'y'.repeat(1024 * 1024)
  const got = await within(Promise.all(Array.from({ length: 80 }, () => root.len(chunk))), 20_000, 'the answers').catch((e: Error) => e)
  assert.ok(Array.isArray(got), `failed: ${(got as Error).message}`)
  await conn.close()
  await server.close()
})

l.run()
