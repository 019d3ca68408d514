// Hostile stream messages: ids never given, credit out of range, data beyond the credit, bad
// markers, too many streams. Each is a ProtocolError for that connection, never a crash.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Readable } from 'node:stream'
import { MessageChannel } from 'node:worker_threads'
import { ProtocolError, connectPort, pair } from '../src/index.ts'
import { HELLO, OP_CODE, PROTOCOL_VERSION, SABORT, SDATA, SDONE, SEND, SMORE } from '../src/protocol/messages.ts'
import { TAG } from '../src/codec/codec.ts'
import { within } from './harness.ts'

const hello = [HELLO, PROTOCOL_VERSION, [], { root: true, heard: true }]
const service = () => ({
  bytes: () => Readable.from([Buffer.alloc(10)]),
  hold: (r: Readable) => void r,
  consume: async (r: Readable) => {
    for await (const _ of r) void _
    return 'read'
  },
})
/** [call, rid, root, name, pull, -1, [args]] with encoded arguments. */
const call = (rid: number, name: string, ...args: unknown[]) => [OP_CODE.call, rid, 0, name, 1, -1, { [TAG]: 'v', v: args }]
const marker = (i: number, k = 'r', o: unknown = {}, c?: number) => ({ [TAG]: 's', i, k, o, ...(c === undefined ? {} : { c }) })

/** A connection over a MessagePort whose other end the test drives by hand. */
function byHand(options: Parameters<typeof connectPort>[1] = {}) {
  const { port1, port2 } = new MessageChannel()
  const conn = connectPort(port1, { root: service(), ...options })
  const got: unknown[][] = []
  port2.on('message', (m) => got.push(m as unknown[]))
  return { conn, got, send: (m: unknown[]) => port2.postMessage(m), close: () => port2.close() }
}

const h = suite('streams-hostile')

const cases: [string, unknown[], RegExp, Parameters<typeof connectPort>[1]?][] = [
  ['credit for a stream id never given', [SMORE, -5, 100], /unknown stream id/],
  ['data for a stream of its own it never sent', [SDATA, 3, Buffer.alloc(1)], /unknown stream id/],
  ['a stream id that is no integer', [SMORE, 0.5, 100], /bad stream id/],
  ['negative credit', [...call(-1, 'bytes'), SMORE, -1, -3], /credit must be/],
  ['credit that is not a whole number', [...call(-1, 'bytes'), SMORE, -1, 1.5], /credit must be/],
  ['huge credit', [...call(-1, 'bytes'), SMORE, -1, 2 ** 40], /credit must be/],
  ['credit piled past the bound', [...call(-1, 'bytes'), SMORE, -1, 2 ** 30, SMORE, -1, 2 ** 30], /more stream credit/],
  ['data before any credit', [...call(-1, 'hold', marker(1)), SDATA, 1, Buffer.alloc(10)], /beyond the credit/],
  ['data beyond the credit given', [...call(-1, 'consume', marker(1)), SDATA, 1, Buffer.alloc(8 * 1024 * 1024)], /beyond the credit|credit given/],
  ['a byte stream chunk that is an object', [...call(-1, 'consume', marker(1)), SDATA, 1, { a: 1 }], /bytes or strings only/],
  ['an end for a stream it reads', [...call(-1, 'bytes'), SEND, -1], /does not read/],
  ['done for a stream it only reads', [...call(-1, 'consume', marker(1)), SDONE, 1], /did not end/],
  ['credit for a stream it sends', [...call(-1, 'consume', marker(1)), SMORE, 1, 10], /does not send/],
  ['a marker of an unknown kind', call(-1, 'consume', marker(1, 'x')), /bad stream marker/],
  ['a marker with a negative id', call(-1, 'consume', marker(-1)), /bad stream marker/],
  ['a marker with bad options', call(-1, 'consume', marker(1, 'r', { rh: -1 })), /bad stream marker/],
  ['a marker with an unknown encoding', call(-1, 'consume', marker(1, 'r', { re: 'klingon' })), /bad stream marker/],
  ['a writable marker without credit', call(-1, 'consume', marker(1, 'w')), /first credit/],
  ['a marker reusing a live id', [...call(-1, 'consume', marker(1)), ...call(-2, 'consume', marker(1))], /bad stream marker/],
  ['more streams than limits.maxStreams', [...call(-1, 'consume', marker(1)), ...call(-2, 'consume', marker(2)), ...call(-3, 'consume', marker(3))], /maxStreams/, { limits: { maxStreams: 2 } }],
]

for (const [name, messages, why, options] of cases) {
  h(`${name}: ProtocolError for that connection`, async () => {
    const peer = byHand(options)
    peer.send([...hello, ...messages])
    const info = await within(peer.conn.closed, 5000, name)
    assert.ok(info.error instanceof ProtocolError, `${name}: ${String(info.error)}`)
    assert.match(String((info.error as Error).message) + String((info.error as Error).cause), why)
    assert.is(peer.conn.stats().streams, 0)
    peer.close()
  })
}

h('late messages for a stream that has ended are dropped, not a fault', async () => {
  const peer = byHand()
  // the stream 1 is read, ended, then credit and an abort for it arrive late
  peer.send([...hello, ...call(-1, 'consume', marker(1))])
  await within((async () => {
    while (!peer.got.some((b) => b.includes(SMORE))) await new Promise((r) => setTimeout(r, 5))
  })())
  peer.send([SEND, 1])
  await within((async () => {
    while (!peer.got.some((b) => b.includes('read'))) await new Promise((r) => setTimeout(r, 5))
  })())
  peer.send([SABORT, 1, null, SDATA, 1, Buffer.alloc(1)])
  // still serving
  peer.send([OP_CODE.ping, -2, 0, [], 1, 1, 'still'])
  await within((async () => {
    while (!peer.got.some((b) => b.includes('still'))) await new Promise((r) => setTimeout(r, 5))
  })())
  assert.is(peer.conn.isClosed, false)
  await peer.conn.close()
  peer.close()
})

h('the sending side refuses a stream past its own limit with a TypeError', async () => {
  const [a, b] = pair({ limits: { maxStreams: 1 } }, { root: service() })
  const first = Readable.from([Buffer.alloc(1)])
  const pending = (a.root as any).consume(first)
  try {
    await (a.root as any).consume(Readable.from([Buffer.alloc(1)]))
    assert.unreachable('a second stream crossed')
  } catch (err) {
    assert.instance(err, TypeError)
    assert.match((err as Error).message, /limits\.maxStreams/)
  }
  assert.is(await pending, 'read')
  await a.close()
  await b.close()
})

h.run()
