// Tracing with node:diagnostics_channel: farside:call on the caller, farside:serve on the callee,
// metadata that crosses with the operation, and the connection open/close point channels. Runs
// over the transports whose two ends live in this process (so both sides' channels are seen here).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import dc from 'node:diagnostics_channel'
import * as net from 'node:net'
import { deserialize } from 'node:v8'
import { Connection, listen, pair } from '../src/index.ts'
import { HELLO, META, OP_CODE, PROTOCOL_VERSION } from '../src/protocol/messages.ts'
import { transports, frame, within } from './harness.ts'
import type { TraceContext } from '../src/protocol/tracing.ts'

type Event = [string, TraceContext]
const ignore = { start() {}, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }

/** Subscribes to every event of farside:call and farside:serve; returns the log and an undo. */
function record(): { log: Event[]; stop(): void } {
  const log: Event[] = []
  const undo: (() => void)[] = []
  for (const name of ['call', 'serve']) {
    const channel = dc.tracingChannel<unknown, TraceContext>(`farside:${name}`)
    const handlers = {
      start: (ctx: TraceContext) => {
        log.push([`${name}:start`, ctx])
        // an OpenTelemetry propagator would inject the current span here
        if (name === 'call') ctx.metadata.traceparent = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`
      },
      end: (ctx: TraceContext) => log.push([`${name}:end`, ctx]),
      asyncStart: (ctx: TraceContext) => log.push([`${name}:asyncStart`, ctx]),
      asyncEnd: (ctx: TraceContext) => log.push([`${name}:asyncEnd`, ctx]),
      error: (ctx: TraceContext) => log.push([`${name}:error`, ctx]),
    }
    channel.subscribe(handlers)
    undo.push(() => channel.unsubscribe(handlers))
  }
  return { log, stop: () => undo.forEach((f) => f()) }
}

for (const transport of transports.filter((t) => !t.remote)) {
  const t = suite(`tracing/${transport.name}`)

  t('a call publishes start, end, asyncStart, asyncEnd on both sides, with the metadata crossing', async () => {
    const peer = await transport.start()
    const { log, stop } = record()
    try {
      assert.is(await peer.conn.root.add(1, 2), 3)
    } finally {
      stop()
      await peer.close()
    }
    const names = log.map(([n]) => n)
    // the call's end (synchronous part) comes before anything is served
    assert.equal(names.filter((n) => n.startsWith('call:')), ['call:start', 'call:end', 'call:asyncStart', 'call:asyncEnd'])
    assert.equal(names.filter((n) => n.startsWith('serve:')), ['serve:start', 'serve:end', 'serve:asyncStart', 'serve:asyncEnd'])
    assert.ok(names.indexOf('call:end') < names.indexOf('serve:start'))
    assert.ok(names.indexOf('serve:asyncEnd') < names.indexOf('call:asyncEnd'))
    const call = log.find(([n]) => n === 'call:start')![1]
    const served = log.find(([n]) => n === 'serve:start')![1]
    assert.is(call.connection, peer.conn)
    assert.instance(served.connection, Connection)
    assert.is.not(served.connection, peer.conn)
    for (const ctx of [call, served]) {
      assert.is(ctx.op, 'call')
      assert.equal(ctx.path, ['add'])
      assert.is(ctx.target, 0)
      assert.is(ctx.transport, transport.kind)
    }
    assert.is(served.callId, call.callId)
    assert.ok(call.callId < 0)
    assert.is(call.result, 3)
    assert.is(served.result, 3)
    assert.is(served.metadata.traceparent, call.metadata.traceparent)
  })

  t('a failing call publishes error on both sides', async () => {
    const peer = await transport.start()
    const { log, stop } = record()
    try {
      await (peer.conn.root.throwType() as unknown as Promise<never>).catch(() => {})
    } finally {
      stop()
      await peer.close()
    }
    const errors = log.filter(([n]) => n.endsWith(':error'))
    assert.equal(errors.map(([n]) => n).sort(), ['call:error', 'serve:error'])
    for (const [, ctx] of errors) {
      assert.instance(ctx.error, TypeError)
      assert.is((ctx.error as Error).message, 'bad type')
    }
  })

  t('pipelined operations are traced one by one, each with its target', async () => {
    const peer = await transport.start()
    const { log, stop } = record()
    try {
      assert.is(await peer.conn.root.makeNode(1).child(2).value, 12)
    } finally {
      stop()
      await peer.close()
    }
    const starts = log.filter(([n]) => n === 'call:start').map(([, c]) => c)
    assert.equal(starts.map((c) => [c.op, c.path]), [['call', ['makeNode']], ['call', ['child']], ['get', ['value']]])
    // each pipelined step targets the result before it
    assert.is(starts[1]!.target, starts[0]!.callId)
    assert.is(starts[2]!.target, starts[1]!.callId)
  })

  t.run()
}

const opened = suite('tracing/connections')
opened('farside:connection:open and :close tell when a connection is ready and why it closed', async () => {
  const events: [string, { connection: object; transport: string; info?: { reason: string } }][] = []
  const onOpen = (m: unknown) => events.push(['open', m as never])
  const onClose = (m: unknown) => events.push(['close', m as never])
  dc.subscribe('farside:connection:open', onOpen)
  dc.subscribe('farside:connection:close', onClose)
  const [conn, other] = pair({}, { root: {} })
  try {
    await Promise.all([conn.ready, other.ready])
    await conn.close()
    await other.closed
  } finally {
    dc.unsubscribe('farside:connection:open', onOpen)
    dc.unsubscribe('farside:connection:close', onClose)
  }
  const mine = events.filter(([, e]) => e.connection === conn)
  assert.equal(mine.map(([n]) => n), ['open', 'close'])
  assert.is(mine[0]![1].transport, 'pair')
  assert.is(mine[1]![1].info?.reason, 'local')
  // the other end: open, then closed because its peer said goodbye
  assert.equal(events.filter(([, e]) => e.connection === other).map(([n, e]) => `${n}${e.info ? ` ${e.info.reason}` : ''}`), ['open', 'close peer'])
})

opened("a peer's metadata is data, bounded; a META no operation follows is dropped", async () => {
  const server = await listen({ host: '127.0.0.1', port: 0 }, { root: { add: (a: number, b: number) => a + b } })
  const seen: TraceContext[] = []
  const channel = dc.tracingChannel<unknown, TraceContext>('farside:serve')
  const handlers = { ...ignore, start: (ctx: TraceContext) => void seen.push(ctx) }
  channel.subscribe(handlers)
  const socket = net.connect((server.address as { port: number }).port, '127.0.0.1')
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()))
    const replies: unknown[] = []
    let buffered = Buffer.alloc(0)
    socket.on('data', (d) => {
      buffered = Buffer.concat([buffered, d])
      while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        replies.push(...(deserialize(buffered.subarray(4, 4 + buffered.readUInt32BE(0))) as unknown[]))
        buffered = buffered.subarray(4 + buffered.readUInt32BE(0))
      }
    })
    const big: Record<string, unknown> = { ok: 'yes', n: 5, long: 'x'.repeat(5000), ['k'.repeat(100)]: 'v', then: 'data' }
    for (let i = 0; i < 40; i++) big[`m${i}`] = String(i)
    const add = (rid: number) => [OP_CODE.call, rid, 0, 'add', 1, 2, 20, 22]
    socket.write(frame([
      HELLO, PROTOCOL_VERSION, [], { root: false, heard: true, frame: 1 << 20 },
      META, -1, 'not an object', ...add(-1), // garbage metadata: ignored
      META, -9, { stray: 'for another call' }, ...add(-2), // names another rid: dropped
      META, -3, big, ...add(-3), // bounded
    ]))
    await within((async () => {
      while (replies.filter((x) => x === 42).length < 3) await new Promise((r) => setTimeout(r, 5))
    })(), 5000, 'the three answers')
  } finally {
    channel.unsubscribe(handlers)
    socket.destroy()
    await server.close()
  }
  assert.is(seen.length, 3)
  assert.equal(Object.keys(seen[0]!.metadata), [])
  assert.equal(Object.keys(seen[1]!.metadata), [])
  const md = seen[2]!.metadata
  assert.is(md.ok, 'yes')
  assert.is(md.then, 'data')
  assert.is(md.n, undefined, 'a value that is not a string is left out')
  assert.is(md.long, undefined, 'a value over 1024 characters is left out')
  assert.is(md['k'.repeat(100)], undefined, 'a name over 64 characters is left out')
  assert.is(Object.keys(md).length, 16)
  assert.is(Object.getPrototypeOf(md), null)
})

opened.run()
