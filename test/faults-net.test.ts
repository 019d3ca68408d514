// Faults over sockets (TCP, Unix, TLS): resets, malformed and oversized frames, wrong versions,
// silent clients, refused connections. Each closes only the connection it happened on; the
// server keeps serving its other clients, and pending calls reject promptly.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import * as tls from 'node:tls'
import { ConnectionClosedError, ProtocolError, connect, listen, type Address, type Connection, type Server } from '../src/index.ts'
import { HELLO, OP_CODE, PROTOCOL_VERSION } from '../src/protocol/messages.ts'
import { rejects, socketPath, testCert, within, frame } from './harness.ts'
import { Service, setUp } from './fixtures/service.ts'


interface Kind {
  name: string
  address(): Address
  server?(): Promise<object>
  client?(): Promise<object>
  raw(addr: Address): Promise<net.Socket>
}

const kinds: Kind[] = [
  { name: 'tcp', address: () => ({ host: '127.0.0.1', port: 0 }), raw: (a) => rawSocket(() => net.connect((a as { port: number }).port, '127.0.0.1')) },
  { name: 'unix', address: () => ({ path: socketPath() }), raw: (a) => rawSocket(() => net.connect((a as { path: string }).path)) },
  {
    name: 'tls',
    address: () => ({ host: '127.0.0.1', port: 0 }),
    server: async () => ({ tls: await testCert() }),
    client: async () => ({ tls: { ca: (await testCert()).cert, servername: 'localhost' } }),
    raw: async (a) => {
      const { cert } = await testCert()
      return rawSocket(() => tls.connect({ port: (a as { port: number }).port, host: '127.0.0.1', ca: cert, servername: 'localhost' }), 'secureConnect')
    },
  },
]

function rawSocket(make: () => net.Socket, ready = 'connect'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = make()
    s.once(ready, () => resolve(s))
    s.once('error', reject)
  })
}

/** The server side of the next connection the server accepts. */
const nextConnection = (server: Server) => new Promise<Connection>((r) => server.once('connection', r))

for (const kind of kinds) {
  const t = suite<{ server: Server; client: () => Promise<Connection> }>(`faults/${kind.name}`)

  t.before(async (ctx) => {
    const svc = new Service()
    ctx.server = await listen(kind.address(), { root: svc, ...((await kind.server?.()) ?? {}), limits: { handshakeTimeout: 200 } })
    ctx.server.on('connection', (c: Connection) => setUp(svc, c))
    const clientOptions = (await kind.client?.()) ?? {}
    ctx.client = () => connect(ctx.server.address as Address, clientOptions)
  })

  t.after(async (ctx) => {
    await ctx.server?.close()
  })

  /** Asserts the server still serves a new client. */
  const stillServes = async (ctx: { client: () => Promise<Connection> }) => {
    const c = await ctx.client()
    assert.is(await (c.root as any).add(20, 22), 42)
    await c.close()
  }

  t('the server closes a connection mid-call: its pending calls reject; others go on', async (ctx) => {
    const accepted = nextConnection(ctx.server)
    const a = await ctx.client()
    const b = await ctx.client()
    const serverSideOfA = await accepted
    const pending = (a.root as any).hang()
    const rejected = rejects(pending, ConnectionClosedError, 'pending call of the dropped client')
    await serverSideOfA.close()
    await rejected
    assert.is((await a.closed).reason, 'peer')
    assert.is(await (b.root as any).add(1, 2), 3)
    await b.close()
  })

  t('a client socket destroyed mid-call: the server drops only that connection', async (ctx) => {
    const accepted = nextConnection(ctx.server)
    const raw = await kind.raw(ctx.server.address as Address)
    raw.write(frame([HELLO, PROTOCOL_VERSION, [], { root: false }, OP_CODE.call, -1, 0, 'hang', 1, 0]))
    const serverSide = await accepted
    raw.destroy()
    const info = await within(serverSide.closed)
    assert.ok(info.reason === 'peer' || info.reason === 'error')
    await stillServes(ctx)
  })

  t('malformed bytes: ProtocolError on that connection only', async (ctx) => {
    const accepted = nextConnection(ctx.server)
    const raw = await kind.raw(ctx.server.address as Address)
    raw.write(Buffer.from([0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8]))
    const info = await within((await accepted).closed)
    assert.ok(info.error instanceof ProtocolError, String(info.error))
    raw.destroy()
    await stillServes(ctx)
  })

  t('a frame over the size limit: ProtocolError before it is read', async (ctx) => {
    const accepted = nextConnection(ctx.server)
    const raw = await kind.raw(ctx.server.address as Address)
    const head = Buffer.alloc(4)
    head.writeUInt32BE(100 * 1024 * 1024)
    raw.write(head)
    const info = await within((await accepted).closed)
    assert.ok(info.error instanceof ProtocolError)
    assert.match((info.error as Error).message, /over the limit/)
    raw.destroy()
    await stillServes(ctx)
  })

  t('a wrong protocol version: ProtocolError', async (ctx) => {
    const accepted = nextConnection(ctx.server)
    const raw = await kind.raw(ctx.server.address as Address)
    raw.write(frame([HELLO, PROTOCOL_VERSION + 1, [], { root: false }]))
    const info = await within((await accepted).closed)
    assert.match(String((info.error as Error)?.message), /version mismatch/)
    raw.destroy()
    await stillServes(ctx)
  })

  t('a client that never says hello is dropped after the handshake timeout', async (ctx) => {
    const accepted = nextConnection(ctx.server)
    const raw = await kind.raw(ctx.server.address as Address)
    const info = await within((await accepted).closed, 5000, 'handshake timeout')
    assert.match(String((info.error as Error)?.message), /handshake/)
    raw.destroy()
    await stillServes(ctx)
  })

  t('a reply over the frame limit the client announced fails that call only (ProtocolError)', async (ctx) => {
    const c = await connect(ctx.server.address as Address, { ...((await kind.client?.()) ?? {}), limits: { maxFrameBytes: 4096 } })
    // the request fits the server's limit; the echo does not fit the client's, and the server knows
    const err = await rejects((c.root as any).echo('x'.repeat(10_000)), ProtocolError)
    assert.match(err.message, /over the peer's frame limit \(4096 bytes\)/)
    assert.is(await (c.root as any).add(1, 1), 2)
    assert.is(c.isClosed, false)
    await c.close()
  })

  t("a batch over the peer's frame limit is split to fit; one value over it fails alone", async () => {
    const small = await listen(kind.address(), { ...((await kind.server?.()) ?? {}), root: { echo: (x: unknown) => x }, limits: { maxFrameBytes: 4096 } })
    const c = await connect(small.address as Address, (await kind.client?.()) ?? {})
    // 100 calls of 200 bytes each: one batch of ~20 kB, five times the server's limit
    const calls = Array.from({ length: 100 }, (_, i) => (c.root as any).echo(String(i).padEnd(200, '.')))
    const answers = await Promise.all(calls)
    assert.is(answers.length, 100)
    assert.ok(answers.every((a, i) => a === String(i).padEnd(200, '.')))
    const err = await rejects((c.root as any).echo('y'.repeat(10_000)), ProtocolError)
    assert.match(err.message, /over the peer's frame limit \(4096 bytes\)/)
    assert.is(await (c.root as any).echo('still here'), 'still here')
    await c.close()
    await small.close()
  })

  t.run()
}

const s = suite('faults/connect')

s('connecting to a closed port or a missing socket: a clear error', async () => {
  const probe = net.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const port = (probe.address() as net.AddressInfo).port
  await new Promise((r) => probe.close(r))
  const err = await rejects(connect({ host: '127.0.0.1', port }), ConnectionClosedError)
  assert.match(err.message, /ECONNREFUSED/)
  const err2 = await rejects(connect({ path: socketPath() }), ConnectionClosedError)
  assert.match(err2.message, /ENOENT/)
})

s('TLS with a certificate the client does not trust: refused on both ends; the server goes on', async () => {
  const { key, cert } = await testCert()
  const server = await listen({ host: '127.0.0.1', port: 0 }, { root: new Service(), tls: { key, cert } })
  const refused = new Promise((r) => server.once('refused', r))
  await rejects(connect(server.address as Address, { tls: {} }), ConnectionClosedError, 'untrusted certificate')
  assert.ok((await within(refused)) instanceof Error)
  const ok = await connect(server.address as Address, { tls: { ca: cert, servername: 'localhost' } })
  assert.is(await (ok.root as any).add(1, 1), 2)
  await ok.close()
  await server.close()
})

s('authenticate() can refuse a client; others are served', async () => {
  let n = 0
  const server = await listen({ host: '127.0.0.1', port: 0 }, {
    root: new Service(),
    authenticate: (socket) => {
      if (++n === 1) throw new Error('not you')
      return socket
    },
  })
  await rejects(connect(server.address as Address, { limits: { handshakeTimeout: 2000 } }), ConnectionClosedError)
  const ok = await connect(server.address as Address)
  assert.is(await (ok.root as any).add(1, 1), 2)
  await ok.close()
  await server.close()
})

s('listen() refuses bad options at once, not at the first client', async () => {
  await rejects(listen({ host: '127.0.0.1', port: 0 }, { allowSet: 'yes' as any }), TypeError)
  await rejects(listen({ host: '127.0.0.1', port: 0 }, { authenticate: 5 as any }), TypeError)
})

s('authenticate() that returns something else, or never finishes: the client is refused, the server goes on', async () => {
  let n = 0
  const server = await listen({ host: '127.0.0.1', port: 0 }, {
    root: new Service(),
    limits: { handshakeTimeout: 300 },
    authenticate: (socket) => {
      n++
      if (n === 1) return [socket, 'credentials'] as any
      if (n === 2) return new Promise(() => {})
      return socket
    },
  })
  const refusals: unknown[] = []
  server.on('refused', (e) => refusals.push(e))
  await rejects(connect(server.address as Address, { limits: { handshakeTimeout: 2000 } }), ConnectionClosedError, 'wrong return')
  await rejects(connect(server.address as Address, { limits: { handshakeTimeout: 2000 } }), ConnectionClosedError, 'stalled')
  assert.match(String(refusals[0]), /must return the socket/)
  assert.match(String(refusals[1]), /did not finish/)
  const ok = await connect(server.address as Address)
  assert.is(await (ok.root as any).add(1, 1), 2)
  await ok.close()
  await server.close()
})

s('server.close() does not wait for a client stuck in authenticate()', async () => {
  const server = await listen({ host: '127.0.0.1', port: 0 }, { root: new Service(), authenticate: () => new Promise(() => {}) })
  const client = connect(server.address as Address, { limits: { handshakeTimeout: 5000 } })
  client.catch(() => {})
  await new Promise((r) => setTimeout(r, 50))
  await within(server.close(), 3000, 'server.close()')
  await rejects(client, ConnectionClosedError)
})

s('one registry for all of a server\'s connections', async () => {
  const server = await listen({ host: '127.0.0.1', port: 0 }, { root: new Service() })
  const a = await connect(server.address as Address)
  const b = await connect(server.address as Address)
  const node = await (a.root as any).makeNode(6)
  await a.attach(node, 'six')
  assert.equal(server.registry.browse(), ['six'])
  assert.is(await (b.fetch('six') as any).value, 6)
  assert.is(server.connections.size, 2)
  await a.close()
  await b.close()
  await server.close()
  assert.is(server.connections.size, 0)
})

s('listen() refuses bad addresses and reports EADDRINUSE', async () => {
  await rejects(listen({ port: -1 } as any), TypeError)
  const server = await listen({ host: '127.0.0.1', port: 0 })
  const err = await rejects(listen(server.address as Address), Error)
  assert.match(err.message, /EADDRINUSE/)
  await server.close()
})

s.run()
