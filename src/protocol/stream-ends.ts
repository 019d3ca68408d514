// Joins the connection's stream Ends (streams.ts) to Node and web streams. On the owner's side it
// reads the user's stream as far as the peer's credit goes, or writes into it and gives credit as
// it drains; on the far side it makes a stream of the same kind whose reads and writes are the flow.
import { Duplex, Readable, Writable } from 'node:stream'
import { AbortError } from '../errors.ts'
import type { StreamOptions } from '../codec/streams.ts'
import type { Streams } from './streams.ts'
import type { End } from './stream-state.ts'

const noop = () => {}
const resolved = Promise.resolve()

/** Starts serving the owner's stream `value` through `end` (reading begins with the first credit). */
export function attachLocal(s: Streams, end: End, value: object): void {
  switch (end.kind) {
    case 'r': return watchNode(s, end, readNode(s, end, value as Readable))
    case 'w': return watchNode(s, end, writeNode(s, end, value as Writable))
    case 'd': {
      readNode(s, end, value as Duplex)
      return watchNode(s, end, writeNode(s, end, value as Duplex))
    }
    case 'R': return readWeb(s, end, value as ReadableStream)
    case 'W': return writeWeb(s, end, value as WritableStream)
  }
}

/** The far copy of the peer's stream: a Node or web stream of the kind `end` has. */
export function makeFar(s: Streams, end: End, o: StreamOptions): unknown {
  switch (end.kind) {
    case 'r': {
      const side = readSide(s, end)
      return farNode(end, side.made(new Readable({ objectMode: o.ro, highWaterMark: o.rh, encoding: o.re as BufferEncoding, read: side.read, destroy: destroyer(s, end, side) })))
    }
    case 'w': return farNode(end, new Writable({ objectMode: o.wo, highWaterMark: o.wh, ...writeSide(s, end), destroy: destroyer(s, end) }))
    case 'd': {
      const side = readSide(s, end)
      const d = new Duplex({
        readableObjectMode: o.ro, writableObjectMode: o.wo, readableHighWaterMark: o.rh, writableHighWaterMark: o.wh, allowHalfOpen: o.half !== false,
        read: side.read, ...writeSide(s, end), destroy: destroyer(s, end, side),
      })
      if (o.re !== undefined) d.setEncoding(o.re as BufferEncoding)
      return farNode(end, side.made(d))
    }
    case 'R': return farWebReadable(s, end)
    case 'W': return farWebWritable(s, end)
  }
}

// ---- the owner's side ----

function readNode<S extends Readable>(s: Streams, end: End, stream: S): S {
  let reading = false
  const onData = (chunk: unknown) => {
    let more: boolean
    try {
      more = s.offer(end, s.wire(end, chunk))
    } catch (err) {
      return void stream.destroy(err as Error)
    }
    if (!more) stream.pause()
  }
  end.ready = () => {
    if (!reading) {
      reading = true
      stream.once('end', () => s.endOut(end))
      stream.on('data', onData)
    }
    stream.resume()
  }
  return stream
}

function writeNode<S extends Writable>(s: Streams, end: End, stream: S): S {
  let draining = false
  const regrant = () => {
    draining = false
    s.want(end)
  }
  end.data = (value) => {
    stream.write(value)
    if (!stream.writableNeedDrain) s.want(end)
    else if (!draining) {
      draining = true
      stream.once('drain', regrant)
    }
  }
  end.ended = () => {
    stream.once('finish', () => s.sinkDone(end))
    stream.end()
  }
  return stream
}

/** Errors and early closes of the owner's Node stream reach the peer; the peer's stop destroys it. */
function watchNode(s: Streams, end: End, stream: Readable | Writable): void {
  stream.on('error', (err) => s.stop(end, err))
  stream.once('close', () => {
    // a readable that ended by itself closes after its end, maybe before the peer has credit for
    // its last chunks: those are held and still leave, then the end
    const r = stream as Readable
    if (end.kind !== 'w' && r.readableEnded && (end.kind === 'r' || (stream as Duplex).writableFinished) && !r.errored) return
    s.stop(end, undefined)
  })
  end.aborted = (err) => void stream.destroy(err as Error | undefined)
}

function readWeb(s: Streams, end: End, stream: ReadableStream): void {
  let reader: ReadableStreamDefaultReader | undefined
  let pumping = false
  const pump = async (r: ReadableStreamDefaultReader) => {
    pumping = true
    try {
      for (;;) {
        const { done, value } = await r.read()
        if (end.closed) return
        if (done) return s.endOut(end)
        if (!s.offer(end, s.wire(end, value))) return
      }
    } catch (err) {
      s.stop(end, err)
      r.cancel(err).catch(noop)
    } finally {
      pumping = false
    }
  }
  end.ready = () => {
    reader ??= stream.getReader()
    if (!pumping) void pump(reader)
  }
  end.aborted = (err) => void (reader ?? stream).cancel(err).catch(noop)
}

function writeWeb(s: Streams, end: End, stream: WritableStream): void {
  let writer: WritableStreamDefaultWriter | undefined
  let buffered = 0
  const w = () => (writer ??= stream.getWriter())
  end.data = (value, cost) => {
    buffered += cost
    w().write(value).then(() => {
      buffered -= cost
      s.want(end, buffered)
    }, (err) => s.stop(end, err))
  }
  end.ended = () => {
    w().close().then(() => s.sinkDone(end), (err) => s.stop(end, err))
  }
  end.aborted = (err) => void (writer ?? stream).abort(err).catch(noop)
}

// ---- the far side ----

/**
 * The far Readable's incoming flow. Chunks from the peer wait here until the stream asks and are
 * pushed while push() says go, so the stream's own buffer stays near its highWaterMark and a
 * read() (what `for await` calls) takes a chunk as it came: pushed all at once, a batch of chunks
 * would be joined into one new buffer by the next read(), a copy of every byte and as much garbage.
 * The credit the peer gets counts what waits here.
 */
function readSide(s: Streams, end: End) {
  let asked = false
  let ended = false
  // set by made(), before any message of the peer's can come for it
  let stream!: Readable
  const chunks: unknown[] = []
  const costs: number[] = []
  let head = 0
  let waiting = 0
  const pump = (r: Readable) => {
    while (asked && head < chunks.length) {
      const value = chunks[head]
      chunks[head] = undefined
      waiting -= costs[head++]!
      asked = r.push(value)
    }
    if (head === chunks.length) {
      chunks.length = costs.length = head = 0
      if (ended) {
        ended = false
        r.push(null)
      }
    } else if (head > 1024 && 2 * head > chunks.length) {
      chunks.splice(0, head)
      costs.splice(0, head)
      head = 0
    }
  }
  end.data = (value, cost) => {
    chunks.push(value)
    costs.push(cost)
    waiting += cost
    if (asked) pump(stream)
  }
  end.ended = () => {
    ended = true
    pump(stream)
  }
  let scheduled = false
  const later = () => {
    scheduled = false
    pump(stream)
  }
  return {
    clear() {
      chunks.length = costs.length = head = waiting = 0
      ended = false
    },
    /** The stream made: data goes into it. */
    made<R extends Readable>(r: R): R {
      stream = r
      return r
    },
    read() {
      asked = true
      // what waits is pushed a microtask later: a push inside read() makes Node's read() take
      // that chunk too, joined to the one it came for (a copy)
      const starving = head === chunks.length
      if (!starving && !scheduled) {
        scheduled = true
        void resolved.then(later)
      }
      s.want(end, waiting, starving)
    },
  }
}

function writeSide(s: Streams, end: End) {
  return {
    write(chunk: unknown, _encoding: unknown, cb: (err?: Error | null) => void) {
      let more: boolean
      try {
        more = s.offer(end, s.wire(end, chunk))
      } catch (err) {
        return cb(err as Error)
      }
      if (more) return cb()
      end.ready = () => {
        end.ready = undefined
        cb()
      }
    },
    final(cb: (err?: Error | null) => void) {
      end.done = () => cb()
      s.endOut(end)
    },
  }
}

/** A far copy's destroy: the peer is told; chunks that waited for the reader are let go. */
function destroyer(s: Streams, end: End, side?: { clear(): void }) {
  return (err: Error | null, cb: (err?: Error | null) => void) => {
    s.stop(end, err ?? undefined)
    side?.clear()
    cb(err)
  }
}

function farNode<S extends Readable | Writable>(end: End, stream: S): S {
  // what the peer or the connection did must not crash this process: a copy nobody listens to for
  // errors (held, never read) is destroyed without one
  end.aborted = (err) => void stream.destroy(stream.listenerCount('error') > 0 ? (err as Error | undefined) : undefined)
  return stream
}

function farWebReadable(s: Streams, end: End): ReadableStream {
  let controller!: ReadableStreamDefaultController
  const stream = new ReadableStream({
    start: (c) => void (controller = c),
    pull: () => s.want(end),
    cancel: (reason) => s.stop(end, reason instanceof Error ? reason : undefined),
  })
  end.data = (value) => controller.enqueue(value)
  end.ended = () => controller.close()
  end.aborted = (err) => controller.error(err ?? new AbortError('the stream was cancelled on the far side'))
  return stream
}

function farWebWritable(s: Streams, end: End): WritableStream {
  let controller!: WritableStreamDefaultController
  // a write or close waiting for the peer: failed if the stream stops meanwhile
  let waiting: { resolve: () => void; reject: (e: unknown) => void } | undefined
  const wait = (arm: (resolve: () => void) => void) => new Promise<void>((resolve, reject) => {
    waiting = { resolve, reject }
    arm(() => {
      waiting = undefined
      resolve()
    })
  })
  const stream = new WritableStream({
    start: (c) => void (controller = c),
    write: (chunk) => {
      if (s.offer(end, s.wire(end, chunk))) return
      return wait((go) => (end.ready = () => {
        end.ready = undefined
        go()
      }))
    },
    close: () => wait((go) => {
      end.done = go
      s.endOut(end)
    }),
    abort: (reason) => s.stop(end, reason instanceof Error ? reason : undefined),
  })
  end.aborted = (err) => {
    const e = err ?? new AbortError('the stream was cancelled on the far side')
    controller.error(e)
    waiting?.reject(e)
    waiting = undefined
  }
  return stream
}
