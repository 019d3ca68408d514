// The stream transport's framing and writer: coalesced writes, backpressure, a hard bound.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import * as net from 'node:net'
import { deserialize } from 'node:v8'
import { ConnectionClosedError, ProtocolError, connectStream } from '../src/index.ts'
import { HELLO, PROTOCOL_VERSION, RET, messageLength } from '../src/protocol/messages.ts'
import { within, frame } from './harness.ts'


/** A hand-written peer: says hello, records every frame it reads, answers calls with `ret`. */
async function rawPeer(onFrame: (batch: unknown[], socket: net.Socket) => void) {
  const server = net.createServer((socket) => {
    socket.write(frame([HELLO, PROTOCOL_VERSION, [], { root: true }]))
    let buf = Buffer.alloc(0)
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const n = buf.readUInt32BE(0)
        onFrame(deserialize(buf.subarray(4, 4 + n)), socket)
        buf = buf.subarray(4 + n)
      }
    })
    socket.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise((r) => socket.once('connect', r))
  return { server, socket }
}

test('calls made in one tick leave in one frame, one write', async () => {
  const frames: unknown[][] = []
  const { server, socket } = await rawPeer((batch, s) => {
    frames.push(batch)
    // answer every call: RET, rid, 0
    const out: unknown[] = []
    for (let i = 0; i < batch.length; i += messageLength(batch, i)) if ((batch[i] as number) < 16) out.push(RET, batch[i + 1], 0)
    if (out.length > 0) s.write(frame(out))
  })
  const conn = connectStream(socket)
  await conn.ready
  frames.length = 0
  const writes: number[] = []
  const write = socket.write.bind(socket)
  socket.write = ((chunk: Buffer, ...rest: unknown[]) => {
    writes.push(chunk.length)
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest)
  }) as typeof socket.write
  await Promise.all(Array.from({ length: 100 }, (_, i) => (conn.root as any).f(i)))
  const calls = (batch: unknown[]) => {
    let n = 0
    for (let i = 0; i < batch.length; i += messageLength(batch, i)) if ((batch[i] as number) < 16) n++
    return n
  }
  const withCalls = frames.filter((f) => calls(f) > 0)
  assert.is(withCalls.length, 1, 'one frame held calls')
  assert.is(calls(withCalls[0]!), 100, 'all hundred of them')
  assert.is(writes.filter((n) => n > 1000).length, 1, "one frame body, written corked with its header")
  assert.ok(conn.stats().bytesOut > 0 && conn.stats().bytesIn > 0)
  await conn.close()
  server.close()
})

test('a peer that stops reading: the writer waits for drain, then gives up at its bound', async () => {
  const { server, socket } = await rawPeer((_batch, s) => s.pause())
  const conn = connectStream(socket, { limits: { maxFrameBytes: 256 * 1024, maxOutgoingBytes: 1024 * 1024 } })
  await conn.ready
  const big = 'x'.repeat(200 * 1024)
  const calls: Promise<unknown>[] = []
  const failed = within(conn.closed, 10_000, 'giving up on a stuck peer')
  // far more than the socket and the 1 MiB bound can hold, sent over several ticks
  for (let i = 0; i < 400 && !conn.isClosed; i++) {
    calls.push(Promise.resolve((conn.root as any).f(big)).catch((e) => e))
    if (i % 10 === 0) await new Promise((r) => setImmediate(r))
  }
  const info = await failed
  assert.ok(info.error instanceof ProtocolError, String(info.error))
  assert.match((info.error as Error).message, /not reading/)
  const results = await Promise.all(calls)
  assert.ok(results.every((r) => r instanceof ConnectionClosedError))
  server.close()
})

test('connectStream refuses what is not a stream', () => {
  assert.throws(() => connectStream({} as any), /duplex stream/)
})

test.run()
