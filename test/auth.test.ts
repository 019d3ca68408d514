// Shared and per-user secrets in the handshake: the secret cases over every transport in
// harness.ts, then the wire rules against a hand-driven peer (older peers, hostile handshakes,
// reflections), the options' checks and listen()'s users and root factory.
import { suite, test } from 'uvu'
import * as assert from 'uvu/assert'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { randomBytes } from 'node:crypto'
import { serialize } from 'node:v8'
import {
  AuthenticationError, ConnectionClosedError, ProtocolError, connect, connectPort, listen, pair, type Connection, type Remote,
} from '../src/index.ts'
import { proof } from '../src/protocol/auth.ts'
import { transports, rejects, within, type AuthSetup } from './harness.ts'
import type { Service } from './fixtures/service.ts'

const HELLO = 16
const BYE = 22
const PROOF = 25
const DENY = 26
const FEATURES_OLD = ['pipeline', 'iter', 'registry', 'promise', 'eorder', 'cancel', 'heartbeat']
const FEATURES = [...FEATURES_OLD, 'secret']

for (const transport of transports) {
  const t = suite(`auth/${transport.name}`)

  /** Starts the transport with `auth`; expects the handshake to fail with AuthenticationError on both sides. */
  const refused = async (auth: AuthSetup, what: string): Promise<{ client: AuthenticationError; served: AuthenticationError | undefined }> => {
    let served: Connection | undefined
    const client = await rejects(within(transport.start({ ...auth, served: (c) => (served = c) }), 20000, what), AuthenticationError, what)
    assert.is(client.code, 'ERR_AUTHENTICATION')
    if (served === undefined) {
      // the serving side is another thread or process: only its end of the story is visible here
      assert.ok(transport.remote, 'an in-process transport shows its serving side')
      return { client, served: undefined }
    }
    const info = await within(served.closed, 5000, 'the serving side closing')
    assert.is(info.reason, 'error')
    assert.instance(info.error, AuthenticationError, 'the serving side failed with AuthenticationError')
    return { client, served: info.error as AuthenticationError }
  }

  t('the same secret on both sides connects; calls work', async () => {
    const peer = await within(transport.start({ client: { secret: 'open sesame' }, server: { secret: 'open sesame' } }), 20000, 'start')
    try {
      const root = peer.conn.root as Remote<Service>
      assert.is(await root.add(1, 2), 3)
      assert.ok(peer.conn.peerFeatures.has('secret'))
      assert.is(await root.peerUser(), undefined)
    } finally {
      await peer.close()
    }
  })

  t('a Buffer secret matches the same bytes given as a string', async () => {
    const peer = await within(transport.start({ client: { secret: Buffer.from('open sesame') }, server: { secret: 'open sesame' } }), 20000, 'start')
    try {
      assert.is(await (peer.conn.root as Remote<Service>).add(2, 2), 4)
    } finally {
      await peer.close()
    }
  })

  t('a wrong secret fails at once with AuthenticationError on both sides', async () => {
    const { client } = await refused({ client: { secret: 'guess' }, server: { secret: 'open sesame' } }, 'wrong secret')
    assert.match(client.message, /proof did not verify|did not accept our proof/)
  })

  t('a secret on the client only fails both sides', async () => {
    const { client, served } = await refused({ client: { secret: 'open sesame' } }, 'client secret only')
    assert.match(client.message, /peer has no secret/)
    if (served) assert.match(served.message, /requires a secret and this side has none/)
  })

  t('a secret on the serving side only fails both sides', async () => {
    const { client, served } = await refused({ server: { secret: 'open sesame' } }, 'server secret only')
    assert.match(client.message, /requires a secret and this side has none/)
    if (served) assert.match(served.message, /peer has no secret/)
  })

  t('per-user secrets: a user with its secret connects and is known to the serving side', async () => {
    const users = { alice: 'alice-secret', bob: 'bob-secret' }
    const peer = await within(transport.start({ client: { user: 'bob', secret: 'bob-secret' }, server: { users } }), 20000, 'start')
    try {
      assert.is(await (peer.conn.root as Remote<Service>).peerUser(), 'bob')
      assert.is(peer.conn.peerUser, undefined, 'the serving side sent no user name')
    } finally {
      await peer.close()
    }
  })

  t('per-user secrets: an unknown user fails exactly like a wrong secret', async () => {
    const server = { users: { alice: 'alice-secret' } }
    const wrong = await refused({ client: { user: 'alice', secret: 'bob-secret' }, server }, 'wrong secret for alice')
    const unknown = await refused({ client: { user: 'mallory', secret: 'bob-secret' }, server }, 'unknown user')
    const proto = await refused({ client: { user: '__proto__', secret: 'x' }, server }, 'a user named __proto__')
    const ctor = await refused({ client: { user: 'constructor', secret: 'x' }, server }, 'a user named constructor')
    for (const r of [unknown, proto, ctor]) {
      assert.is(r.client.message, wrong.client.message, 'the client cannot tell an unknown user from a wrong secret')
      assert.is(r.served?.message, wrong.served?.message)
    }
    // without a user name, only a shared secret lets a client in
    await refused({ client: { secret: 'alice-secret' }, server }, 'no user name')
  })

  t.run()
}

/** Asserts that `p` rejects with a ConnectionClosedError caused by a ProtocolError (a wire fault). */
async function faults(p: PromiseLike<unknown>, what: string): Promise<ProtocolError> {
  const err = await rejects(p, ConnectionClosedError, what)
  assert.instance(err.cause, ProtocolError, `${what}: caused by a ProtocolError`)
  return err.cause as ProtocolError
}

// ---- the core, against a peer driven by hand ----

/** The far end of a MessageChannel, spoken to message by message. */
function fake() {
  const { port1, port2 } = new MessageChannel()
  const got: unknown[][] = []
  let wake: (() => void) | undefined
  port2.on('message', (m: unknown[]) => {
    got.push(m)
    wake?.()
  })
  return {
    port: port1 as MessagePort,
    got,
    send: (batch: unknown[]) => port2.postMessage(batch),
    /** The first batch whose tag is `tag`, waiting for it. */
    async next(tag: number): Promise<unknown[]> {
      for (;;) {
        const found = got.find((b) => b[0] === tag)
        if (found !== undefined) return found
        await within(new Promise<void>((r) => (wake = r)), 5000, `a message with tag ${tag}`)
      }
    },
    close: () => port2.close(),
  }
}

const nonceOf = (hello: unknown[]) => (hello[3] as { nonce: Uint8Array }).nonce

test('ready and pending calls reject with the AuthenticationError; closed says why', async () => {
  const [a, b] = pair({ secret: 'one' }, { secret: 'two', root: { add: (x: number, y: number) => x + y } })
  const pending = (a.root as any).add(1, 2)
  await rejects(pending, AuthenticationError, 'a call queued before the handshake')
  await rejects(a.ready, AuthenticationError, 'ready')
  await rejects(b.ready, AuthenticationError, 'the peer ready')
  for (const c of [a, b]) {
    const info = await c.closed
    assert.is(info.reason, 'error')
    assert.instance(info.error, AuthenticationError)
  }
  // once closed, the connection is closed: later calls say so, with the reason as the cause
  const later = await rejects((a.root as any).add(1, 2), ConnectionClosedError, 'a call after the failure')
  assert.instance(later.cause, AuthenticationError)
})

test('a peer without the feature (an older farside): a clear error here, a goodbye there', async () => {
  const peer = fake()
  const conn = connectPort(peer.port, { secret: 'open sesame' })
  const hello = await peer.next(HELLO)
  assert.ok(nonceOf(hello) instanceof Uint8Array, 'our HELLO carries a nonce')
  // an older peer: no 'secret' feature, no nonce; it would ignore ours
  peer.send([HELLO, 1, FEATURES_OLD, { root: true, heard: true }])
  const err = await rejects(conn.ready, AuthenticationError, 'older peer')
  assert.match(err.message, /does not speak 'secret'/)
  // an older peer cannot read DENY: it is told goodbye, which closes it at once
  assert.equal(await peer.next(BYE), [BYE, 'auth'])
  assert.not.ok(peer.got.some((b) => b[0] === DENY))
  peer.close()
})

test('without secrets, an older peer still connects', async () => {
  const peer = fake()
  const conn = connectPort(peer.port)
  const hello = await peer.next(HELLO)
  assert.is((hello[3] as { nonce?: unknown }).nonce, undefined, 'no nonce without a secret')
  peer.send([HELLO, 1, FEATURES_OLD, { root: true, heard: true }])
  await within(conn.ready, 5000, 'ready')
  await conn.close()
  peer.close()
})

test('a DENY from the peer fails this side with AuthenticationError', async () => {
  const peer = fake()
  const conn = connectPort(peer.port, { secret: 'open sesame' })
  await peer.next(HELLO)
  peer.send([HELLO, 1, FEATURES, { root: true, heard: true, nonce: randomBytes(32) }, DENY, 0])
  const err = await rejects(conn.ready, AuthenticationError, 'denied')
  assert.match(err.message, /did not accept our proof/)
  // an unknown code, or one of another type, is a refusal without a reason: never stringified
  for (const why of [99, { toString: 0 }, 10n]) {
    const p = fake()
    const c = connectPort(p.port)
    p.send([DENY, why])
    const e = await rejects(c.ready, AuthenticationError, 'odd DENY')
    assert.match(e.message, /the peer refused authentication$/)
    p.close()
  }
  peer.close()
})

test('a peer that offers a secret to a side without one is told, and this side fails', async () => {
  const peer = fake()
  const conn = connectPort(peer.port, { root: {} })
  await peer.next(HELLO)
  peer.send([HELLO, 1, FEATURES, { root: true, heard: true, nonce: randomBytes(32) }])
  await rejects(conn.ready, AuthenticationError, 'no secret here')
  assert.equal(await peer.next(DENY), [DENY, 2])
  peer.close()
})

test('no operation of ours leaves before the peer proved the secret', async () => {
  const peer = fake()
  const conn = connectPort(peer.port, { secret: 'open sesame' })
  const pending = (conn.root as any).add(1, 2)
  await peer.next(HELLO)
  peer.send([HELLO, 1, FEATURES, { root: true, heard: true, nonce: randomBytes(32) }])
  const mine = await peer.next(PROOF)
  assert.ok(mine[1] instanceof Uint8Array && (mine[1] as Uint8Array).byteLength === 32)
  peer.send([PROOF, randomBytes(32)])
  await rejects(pending, AuthenticationError, 'the queued call')
  assert.equal(await peer.next(DENY), [DENY, 0])
  // everything that left: our HELLO, our PROOF, our DENY; no operation (op tags are 0-14)
  assert.equal(peer.got.map((b) => b[0]), [HELLO, PROOF, DENY])
  assert.not.ok(serialize(peer.got).includes(Buffer.from('open sesame')), 'the secret never crosses')
  peer.close()
})

test('no operation is served before the peer proved the secret', async () => {
  let called = false
  const peer = fake()
  const conn = connectPort(peer.port, { secret: 'open sesame', root: { add: () => (called = true) } })
  await peer.next(HELLO)
  // an operation right behind the HELLO, without a proof: [call, rid, target, path, pull, argc, args...]
  peer.send([HELLO, 1, FEATURES, { root: true, heard: true, nonce: randomBytes(32) }, 1, -1, 0, 'add', 2, 0])
  const err = await faults(conn.ready, 'operation before the proof')
  assert.match(err.message, /expected the handshake \(PROOF\) first/)
  assert.not.ok(called)
  peer.close()
})

test('a peer that knows the secret connects (the proof as PROTOCOL.md gives it)', async () => {
  const peer = fake()
  const conn = connectPort(peer.port, { secret: 'open sesame', user: 'alice' })
  const ours = nonceOf(await peer.next(HELLO))
  const theirs = randomBytes(32)
  peer.send([HELLO, 1, FEATURES, { root: false, heard: true, nonce: theirs }])
  const mine = (await peer.next(PROOF))[1] as Uint8Array
  const key = Buffer.from('open sesame')
  assert.equal(Buffer.from(mine), proof(key, theirs, ours, 'alice', undefined), 'our proof')
  peer.send([PROOF, proof(key, ours, theirs, undefined, 'alice')])
  await within(conn.ready, 5000, 'ready')
  await conn.close()
  peer.close()
})

test('reflections fail: an echoed nonce, and our own proof sent back', async () => {
  // the peer echoes our nonce, then our proof: the one case where the nonces' order agrees
  let peer = fake()
  let conn = connectPort(peer.port, { secret: 'open sesame' })
  const ours = nonceOf(await peer.next(HELLO))
  peer.send([HELLO, 1, FEATURES, { root: true, heard: true, nonce: ours }])
  peer.send([PROOF, (await peer.next(PROOF))[1]])
  await rejects(conn.ready, AuthenticationError, 'echoed nonce')
  peer.close()
  // its own nonce, and our proof reflected
  peer = fake()
  conn = connectPort(peer.port, { secret: 'open sesame' })
  await peer.next(HELLO)
  peer.send([HELLO, 1, FEATURES, { root: true, heard: true, nonce: randomBytes(32) }])
  peer.send([PROOF, (await peer.next(PROOF))[1]])
  await rejects(conn.ready, AuthenticationError, 'reflected proof')
  peer.close()
})

test('hostile handshake values are protocol faults, never coerced', async () => {
  const cyclic: Record<string, unknown> = { root: true, heard: true }
  cyclic.self = cyclic
  cyclic.nonce = randomBytes(32)
  const cases: [string, unknown[]][] = [
    ['a 31-byte nonce', [HELLO, 1, FEATURES, { heard: true, nonce: randomBytes(31) }]],
    ['a nonce with toString', [HELLO, 1, FEATURES, { heard: true, nonce: { toString: 0, length: 32 } }]],
    ['a BigInt nonce', [HELLO, 1, FEATURES, { heard: true, nonce: 10n }]],
    ['a nonce as an ArrayBuffer', [HELLO, 1, FEATURES, { heard: true, nonce: new ArrayBuffer(32) }]],
    ['a BigInt user', [HELLO, 1, FEATURES, { heard: true, nonce: randomBytes(32), user: 10n }]],
    ['a user with toString', [HELLO, 1, FEATURES, { heard: true, nonce: randomBytes(32), user: { toString: 0 } }]],
    ['an empty user', [HELLO, 1, FEATURES, { heard: true, nonce: randomBytes(32), user: '' }]],
    ['a user of 257 characters', [HELLO, 1, FEATURES, { heard: true, nonce: randomBytes(32), user: 'u'.repeat(257) }]],
    ['a short proof', [HELLO, 1, FEATURES, cyclic, PROOF, randomBytes(31)]],
    ['a proof as a string', [HELLO, 1, FEATURES, cyclic, PROOF, 'x'.repeat(32)]],
    ['a second proof', [HELLO, 1, FEATURES, cyclic, PROOF, randomBytes(32), PROOF, randomBytes(32)]],
    ['a proof before the HELLO', [PROOF, randomBytes(32)]],
  ]
  for (const [what, batch] of cases) {
    const peer = fake()
    // a lookup that never answers: a proof that arrives early is held, never verified
    const conn = connectPort(peer.port, { secret: what === 'a second proof' ? () => new Promise(() => {}) : 'open sesame' })
    peer.send(batch)
    await faults(conn.ready, what)
    peer.close()
  }
})

test('options: secret and user are checked, naming the option', () => {
  for (const secret of ['', 5, null, {}, { toString: () => 'x' }, new Uint8Array(0), 10n, [1, 2]]) {
    assert.throws(() => pair({ secret: secret as never }), (e: Error) => e instanceof TypeError && /options\.secret/.test(e.message), String(typeof secret))
  }
  assert.throws(() => pair({ user: 'alice' }), (e: Error) => e instanceof TypeError && /options\.user needs options\.secret/.test(e.message))
  for (const user of ['', 'u'.repeat(257), 5, { toString: () => 'alice' }]) {
    assert.throws(() => pair({ user: user as never, secret: 's' }), (e: Error) => e instanceof TypeError && /options\.user/.test(e.message))
  }
  const [a, b] = pair({ secret: new Uint8Array([1]), user: 'u'.repeat(256) }, { secret: Buffer.from([1]) })
  void a.close()
  void b.close()
})

test('listen(): users are checked before anything listens', async () => {
  await rejects(listen({ port: 0 }, { users: { alice: '' } }), TypeError, 'an empty secret')
  await rejects(listen({ port: 0 }, { users: { alice: 5 as never } }), TypeError, 'a number')
  await rejects(listen({ port: 0 }, { users: 'alice' as never }), TypeError, 'users as a string')
  await rejects(listen({ port: 0 }, { users: { alice: 'a' }, secret: () => 'x' }), TypeError, 'secret as a function beside users')
})

test('listen(): users as a lookup, a shared secret for clients without a name, a throwing lookup', async () => {
  const seen: (string | undefined)[] = []
  const server = await listen({ host: '127.0.0.1', port: 0 }, {
    root: { hi: () => 'hi' },
    secret: 'shared',
    users: async (user) => {
      seen.push(user)
      if (user === 'broken') throw new Error('directory down')
      return user === 'carol' ? 'carol-secret' : undefined
    },
  })
  const served: Connection[] = []
  server.on('connection', (c: Connection) => served.push(c))
  const address = server.address as { host: string; port: number }
  const carol = await connect(address, { user: 'carol', secret: 'carol-secret' })
  assert.is(await (carol.root as any).hi(), 'hi')
  const anon = await connect(address, { secret: 'shared' })
  assert.is(await (anon.root as any).hi(), 'hi')
  const wrong = await rejects(connect(address, { user: 'dave', secret: 'shared' }), AuthenticationError, 'unknown user with the shared secret')
  const broken = await rejects(connect(address, { user: 'broken', secret: 'x' }), AuthenticationError, 'a lookup that throws')
  assert.is(broken.message, wrong.message, 'a failing lookup looks like a wrong secret to the client')
  const info = await served[3]!.closed
  assert.instance(info.error, AuthenticationError)
  assert.is(((info.error as Error).cause as Error).message, 'directory down', 'the serving side keeps the cause')
  assert.equal(seen, ['carol', 'dave', 'broken'], 'the lookup is asked only for named clients')
  await carol.close()
  await anon.close()
  await server.close()
})

test('listen(): a root factory gives each authenticated connection its own root', async () => {
  const made: (string | undefined)[] = []
  const server = await listen({ host: '127.0.0.1', port: 0 }, {
    users: { alice: 'a', bob: 'b' },
    root: (conn: Connection) => {
      made.push(conn.peerUser)
      return { whoami: () => conn.peerUser, conn: () => conn.peerUser }
    },
  })
  const address = server.address as { host: string; port: number }
  const alice = await connect(address, { user: 'alice', secret: 'a' })
  const bob = await connect(address, { user: 'bob', secret: 'b' })
  assert.is(await (alice.root as any).whoami(), 'alice')
  assert.is(await (bob.root as any).whoami(), 'bob')
  await rejects(connect(address, { user: 'eve', secret: 'a' }), AuthenticationError, 'eve')
  assert.equal(made, ['alice', 'bob'], 'called after authentication, never for a refused client')
  await alice.close()
  await bob.close()
  await server.close()
})

test('listen(): a root factory that throws closes that connection only', async () => {
  const server = await listen({ host: '127.0.0.1', port: 0 }, {
    root: () => {
      throw new RangeError('no root for you')
    },
  })
  let served: Connection | undefined
  server.on('connection', (c: Connection) => (served = c))
  const conn = await connect(server.address as { host: string; port: number }).catch((e: unknown) => e)
  const info = await served!.closed
  assert.instance(info.error, RangeError)
  if (conn instanceof Error) assert.instance(conn, ConnectionClosedError)
  else await rejects((conn as Connection<{ x(): void }>).root.x(), ConnectionClosedError, 'a call on the failed connection')
  if (!(conn instanceof Error)) await (conn as Connection).close()
  await server.close()
})

test.run()
