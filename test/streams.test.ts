// Streams over every transport: Node and web streams of each kind, passed and returned, with
// backpressure, errors and ends both ways, cancellation and the connection closing mid-stream.
import * as assert from 'uvu/assert'
import { Duplex, Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createInterface } from 'node:readline'
import { AbortError, ConnectionClosedError, withOptions, type Connection } from '../src/index.ts'
import { transports, rejects, within, peerSuite, type PeerContext } from './harness.ts'
import type { Service } from './fixtures/service.ts'
import type { Remote } from '../src/index.ts'

/** Waits (a few round trips) until neither side holds a stream: ends travel asynchronously. */
async function settledStreams(conn: Connection, root: Remote<Service>): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if (conn.stats().streams === 0 && (await root.stats()).streams === 0) return
    await conn.ping()
  }
  assert.is(conn.stats().streams, 0, 'streams left open here')
  assert.is((await root.stats()).streams, 0, 'streams left open on the peer')
}

const localBytes = (n: number, size: number) => Readable.from((function* () {
  for (let i = 0; i < n; i++) yield Buffer.alloc(size, i)
})(), { objectMode: false })

for (const transport of transports) {
  const t = peerSuite('streams', transport)
  const test = (name: string, fn: (ctx: PeerContext) => Promise<void>) =>
    t(name, async (ctx) => {
      await within(fn(ctx), 15000, name)
      await settledStreams(ctx.conn, ctx.root)
      assert.is(ctx.conn.stats().inFlight, 0, 'calls left in flight')
    })

  test('a returned Readable arrives as a Readable: for await, pipeline, options carried', async ({ root }) => {
    const r = await root.streams.bytes(300, 1000)
    assert.ok(r instanceof Readable)
    assert.not.ok(r.readableObjectMode)
    let total = 0
    for await (const c of r) {
      assert.ok(c instanceof Uint8Array)
      total += (c as Uint8Array).length
    }
    assert.is(total, 300_000)
    let piped = 0
    await pipeline(await root.streams.bytes(50, 4096), new Writable({ write: (c, _e, cb) => { piped += c.length; cb() } }))
    assert.is(piped, 50 * 4096)
  })

  test('object mode and encoding cross; readline reads a remote text stream', async ({ root }) => {
    const objs = await root.streams.objects(100)
    assert.ok(objs.readableObjectMode)
    const items: unknown[] = []
    for await (const o of objs) items.push(o)
    assert.is(items.length, 100)
    assert.equal(items[99], { i: 99, tag: 'o99' })
    const text = await root.streams.text(200)
    assert.is(text.readableEncoding, 'utf8')
    const lines: string[] = []
    for await (const line of createInterface({ input: text, crlfDelay: Infinity })) lines.push(line)
    assert.is(lines.length, 200)
    assert.is(lines[199], 'line 199')
  })

  test('a Readable passed as an argument is read by the far side', async ({ root }) => {
    const got = await root.streams.consume(localBytes(100, 10_000) as never)
    assert.equal([got.total, got.objectMode], [1_000_000, false])
    const objs = await root.streams.consume(Readable.from([{ a: 1 }, { b: [2] }, 'three']) as never)
    assert.equal(objs.items, [{ a: 1 }, { b: [2] }, 'three'])
  })

  test('a source that has ended before the peer gave credit for all of it still arrives whole', async ({ root }) => {
    // one chunk larger than the first credit (64 KiB) and the end, both buffered: Node emits 'end'
    // and then 'close' while the rest of the chunk waits for credit
    const r = new Readable({ read() {} })
    r.push(Buffer.alloc(300_000, 7))
    r.push(null)
    const got = await root.streams.consume(r as never)
    assert.equal([got.total, got.objectMode], [300_000, false])
  })

  test('a chunk far larger than the window crosses in pieces that carry only their own bytes', async ({ root }) => {
    // one 4 MiB chunk, cut to the credit: each piece must arrive without the rest of the chunk's
    // buffer (a MessagePort clones a view's whole ArrayBuffer)
    const size = 4 * 2 ** 20
    const buffers = new Set<ArrayBufferLike>()
    let total = 0
    for await (const c of await root.streams.bytes(1, size)) {
      const bytes = c as Uint8Array
      assert.ok(bytes.every((b) => b === 0), 'the bytes as sent')
      total += bytes.length
      buffers.add(bytes.buffer)
    }
    assert.is(total, size)
    let carried = 0
    for (const b of buffers) carried += b.byteLength
    assert.ok(carried <= 2 * size, `${carried} bytes of buffers carried ${size} bytes of data`)
  })

  test('a piece of a chunk crosses in a buffer of its own where a whole buffer would cross with it', async ({ root }) => {
    // 48 KiB against a credit of 32 KiB (calls just crossed: this one): a piece of 32 KiB, then
    // the rest. Structured clone (the MessagePort kinds) would carry the whole 48 KiB buffer with
    // the first piece; a copy of its own, moved, carries just its bytes. (Had the credit been the
    // calm 64 KiB, the chunk goes whole, in its own buffer: the same total.) Serializing
    // transports carry a view's bytes alone anyway.
    const size = 48 * 1024
    const buffers = new Set<ArrayBufferLike>()
    const pieces: number[] = []
    for await (const c of await root.streams.bytes(1, size)) {
      pieces.push((c as Uint8Array).length)
      buffers.add((c as Uint8Array).buffer)
    }
    assert.is(pieces.reduce((a, b) => a + b, 0), size)
    let carried = 0
    for (const b of buffers) carried += b.byteLength
    if (['pair', 'port', 'worker', 'shared-memory'].includes(transport.kind)) assert.is(carried, size, `pieces ${pieces} came in buffers of ${carried} bytes`)
    else assert.ok(carried <= 2 * size, `${carried} bytes of buffers carried ${size} bytes of data`)
  })

  test('a remote Writable takes a pipeline; it resolves once the far side has written all', async ({ root }) => {
    const w = await root.streams.sink(1024)
    assert.ok(w instanceof Writable)
    await pipeline(localBytes(200, 5000), w)
    assert.is(await root.streams.written, 1_000_000)
    assert.is(await root.streams.finished, true)
  })

  test('a Transform arrives as a Duplex that transforms both ways', async ({ root }) => {
    const t = await root.streams.upper()
    assert.ok(t instanceof Duplex)
    const out: string[] = []
    await pipeline(Readable.from(['ab', 'cd', 'ef']), t, new Writable({ write: (c, _e, cb) => { out.push(c.toString()); cb() } }))
    assert.is(out.join(''), 'ABCDEF')
  })

  test('a local stream sent and returned goes out and back as a stream', async ({ root }) => {
    const back = await root.streams.passBack(localBytes(10, 100))
    let total = 0
    for await (const c of back as Readable) total += (c as Buffer).length
    assert.is(total, 1000)
  })

  test('web streams: ReadableStream both ways, WritableStream returned', async ({ root }) => {
    const rs = await root.streams.webBytes(50, 100)
    assert.ok(rs instanceof ReadableStream)
    let total = 0
    for await (const c of rs as unknown as AsyncIterable<Uint8Array>) total += c.length
    assert.is(total, 5000)
    const local = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(64))
        c.close()
      },
    })
    assert.is(await root.streams.consumeWeb(local as never), 20 * 64)
    const ws = await root.streams.webSink()
    assert.ok(ws instanceof WritableStream)
    await (await root.streams.webBytes(0)).cancel()
    await new ReadableStream({ start(c) { c.enqueue(new Uint8Array(10)); c.enqueue(new Uint8Array(20)); c.close() } }).pipeTo(ws as WritableStream)
    assert.is(await root.streams.written, 30)
    assert.is(await root.streams.finished, true)
  })

  test('errors cross with class and message, both ways', async ({ root }) => {
    const failing = await root.streams.failing(3)
    const err = await rejects((async () => { for await (const _ of failing) void _ })(), RangeError, 'reading a failing stream')
    assert.is(err.message, 'the source broke')
    const broken = new Readable({ read() { this.destroy(new TypeError('local source broke')) } })
    const far = await rejects(root.streams.consume(broken as never), TypeError, 'the far side reading a failing stream')
    assert.match(far.message, /local source broke/)
    assert.is(await root.streams.ended, 'TypeError: local source broke')
    const web = await root.streams.webFailing()
    const werr = await rejects((async () => { for await (const _ of web as unknown as AsyncIterable<unknown>) void _ })(), TypeError, 'reading a failing web stream')
    assert.is(werr.message, 'web source broke')
  })

  test('a consumer that stops early stops the producer; a slow one bounds it', async ({ conn, root }) => {
    const r = await root.streams.endless(16 * 1024)
    let seen = 0
    for await (const c of r) {
      seen += (c as Buffer).length
      if (seen >= 256 * 1024) break
    }
    // as for a local stream, Node destroys a stream left early with an AbortError
    assert.match(await root.streams.whenEnded(), /destroyed|AbortError/)
    // a consumer that reads one chunk, then nothing: the producer stops within the credit window
    const slow = await root.streams.endless(16 * 1024)
    await new Promise((resolve) => slow.once('data', resolve))
    slow.pause()
    for (let i = 0; i < 5; i++) await conn.ping()
    const made = await root.streams.produced
    // window 1 MiB + the producer's and the far copy's buffers: far less than unbounded
    assert.ok(made < 200, `the producer made ${made} chunks of 16 KiB for a reader that took one`)
    slow.destroy()
    assert.is(await root.streams.whenEnded(), 'destroyed')
  })

  test('destroy(err) on the far copy reaches the owner with class and message', async ({ root }) => {
    const r = await root.streams.endless()
    await new Promise((resolve) => r.once('data', resolve))
    r.on('error', () => {})
    r.destroy(new RangeError('enough'))
    assert.is(await root.streams.whenEnded(), 'RangeError: enough')
  })

  test('withOptions({ signal }) aborts a returned stream and an argument stream', async ({ root }) => {
    const ac = new AbortController()
    const r = await withOptions(root, { signal: ac.signal }).streams.endless()
    await new Promise((resolve) => r.once('data', resolve))
    const failed = new Promise<Error>((resolve) => r.once('error', resolve))
    ac.abort()
    assert.ok((await failed) instanceof AbortError)
    assert.match(await root.streams.whenEnded(), /AbortError/)
    // an argument: the far side's call signal aborts, the stream it reads stops there and here
    const ac2 = new AbortController()
    let reading!: () => void
    const read = new Promise<void>((resolve) => (reading = resolve))
    const local = new Readable({
      read() {
        reading()
        setImmediate(() => this.push(Buffer.alloc(1024)))
      },
    })
    const localFailed = new Promise<Error>((resolve) => local.once('error', resolve))
    const call = withOptions(root, { signal: ac2.signal }).streams.consumeUntilCancelled(local as never)
    await read
    ac2.abort()
    await rejects(call, AbortError, 'the aborted call')
    assert.ok((await localFailed) instanceof AbortError)
    assert.match(await root.streams.whenEnded(), /AbortError/)
  })

  test('a small call is answered while a bulk stream flows', async ({ root }) => {
    const r = await root.streams.endless(64 * 1024)
    let seen = 0
    let answered = 0
    for await (const c of r) {
      const before = seen
      seen += (c as Buffer).length
      // a call at every MiB read, while the stream keeps flowing
      if (Math.floor(before / 2 ** 20) !== Math.floor(seen / 2 ** 20)) answered += (await root.add(1, 2)) === 3 ? 1 : 0
      if (seen >= 8 * 2 ** 20) break
    }
    assert.is(answered, 8)
  })

  t('the connection closing mid-stream errors the stream with ConnectionClosedError', async () => {
    const peer = await within(transport.start(), 20000, `starting ${transport.name}`)
    try {
      const root = peer.conn.root as Remote<Service>
      const r = await root.streams.endless()
      await new Promise((resolve) => r.once('data', resolve))
      const failed = new Promise<Error>((resolve) => r.once('error', resolve))
      const w = await root.streams.sink()
      const wFailed = new Promise<Error>((resolve) => w.once('error', resolve))
      await peer.close()
      assert.ok((await within(failed, 5000, 'the readable failing')) instanceof ConnectionClosedError)
      assert.ok((await within(wFailed, 5000, 'the writable failing')) instanceof ConnectionClosedError)
      assert.is(peer.conn.stats().streams, 0)
    } finally {
      await peer.close()
    }
  })

  t.run()
}
