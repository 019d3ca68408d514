// Transport over a byte stream (TCP, Unix socket, TLS, a child's stdio): each message is one
// frame, a 4-byte big-endian length then the node:v8 serialization of the message. Frames sent in
// one tick leave in one write; the writer waits for 'drain' and refuses to buffer without bound.
import { serialize, deserialize } from 'node:v8'
import type { Readable, Writable } from 'node:stream'
import { ProtocolError, type CloseInfo } from '../errors.ts'
import type { Transport, TransportSink } from './transport.ts'
import { Inbox } from './inbox.ts'

export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024
const HEADER = 4

export interface StreamTransportOptions {
  /** Largest frame accepted or sent, in bytes. Default 64 MiB. */
  maxFrameBytes?: number
  /** What to do on close besides ending the streams (e.g. stop a child process). */
  teardown?: () => void | Promise<void>
  /** Close info to use when the stream ends (e.g. a child's exit code), if known by then. */
  endInfo?: () => CloseInfo | Promise<CloseInfo>
}

export class StreamTransport implements Transport {
  bytesIn = 0
  bytesOut = 0
  #in: Readable
  #out: Writable
  #max: number
  #inbox = new Inbox()
  #chunks: Buffer[] = []
  #buffered = 0
  #pending: Buffer[] = []
  #pendingBytes = 0
  #scheduled = false
  #waitingDrain = false
  #closed = false
  #closing: Promise<void> | undefined
  #opts: StreamTransportOptions
  #listeners: [Readable | Writable, string, (...a: any[]) => void][] = []

  constructor(input: Readable, output: Writable, options: StreamTransportOptions = {}) {
    this.#in = input
    this.#out = output
    this.#opts = options
    this.#max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME
    this.#listen(input, 'data', (chunk: Buffer) => this.#onData(chunk))
    this.#listen(input, 'end', () => this.#ended())
    this.#listen(input, 'close', () => this.#ended())
    this.#listen(input, 'error', (err: unknown) => this.#ended({ reason: 'error', error: err }))
    if (output !== (input as unknown)) {
      this.#listen(output, 'error', (err: unknown) => this.#ended({ reason: 'error', error: err }))
      this.#listen(output, 'close', () => this.#ended())
    }
    this.#listen(output, 'drain', () => this.#drained())
  }

  #listen(emitter: Readable | Writable, event: string, fn: (...a: any[]) => void): void {
    emitter.on(event, fn)
    this.#listeners.push([emitter, event, fn])
  }

  start(sink: TransportSink): void {
    this.#inbox.start(sink)
  }

  send(data: unknown): void {
    if (this.#closed) return
    const body = serialize(data)
    if (body.length > this.#max) throw new RangeError(`message of ${body.length} bytes is over the frame limit (${this.#max} bytes)`)
    const header = Buffer.allocUnsafe(HEADER)
    header.writeUInt32BE(body.length, 0)
    this.#pending.push(header, body)
    this.#pendingBytes += HEADER + body.length
    // the writer refuses to buffer without bound: a peer that stops reading is a fault
    const bound = Math.max(4 * this.#max, 1024 * 1024)
    if (this.#pendingBytes > bound) {
      this.close({ reason: 'error', error: new ProtocolError(`the peer is not reading: ${this.#pendingBytes} bytes waiting to be written`) })
      return
    }
    if (!this.#scheduled && !this.#waitingDrain) {
      this.#scheduled = true
      queueMicrotask(() => this.#write())
    }
  }

  // One write for every frame queued since the last: fewer syscalls, fewer wake-ups of the peer.
  #write(): void {
    this.#scheduled = false
    if (this.#closed || this.#pending.length === 0 || this.#waitingDrain) return
    const frames = this.#pending
    const bytes = this.#pendingBytes
    this.#pending = []
    this.#pendingBytes = 0
    this.bytesOut += bytes
    // corked, the buffers leave in one writev: no copy into one big buffer first
    this.#out.cork()
    let ok = true
    for (const f of frames) ok = this.#out.write(f)
    this.#out.uncork()
    if (!ok) this.#waitingDrain = true
  }

  #drained(): void {
    this.#waitingDrain = false
    this.#write()
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return
    this.bytesIn += chunk.length
    this.#chunks.push(chunk)
    this.#buffered += chunk.length
    while (this.#buffered >= HEADER) {
      const head = this.#peekHeader()
      if (head > this.#max) {
        this.close({ reason: 'error', error: new ProtocolError(`frame of ${head} bytes is over the limit (${this.#max} bytes)`) })
        return
      }
      if (this.#buffered < HEADER + head) return
      const frame = this.#take(HEADER + head).subarray(HEADER)
      let message: unknown
      try {
        message = deserialize(frame)
      } catch (err) {
        this.close({ reason: 'error', error: new ProtocolError('a frame could not be deserialized', { cause: err }) })
        return
      }
      this.#inbox.deliver(message)
      if (this.#closed) return
    }
  }

  #peekHeader(): number {
    const first = this.#chunks[0]!
    if (first.length >= HEADER) return first.readUInt32BE(0)
    return this.#take(HEADER, true).readUInt32BE(0)
  }

  /** Takes `n` bytes off the front of the buffered chunks (or, with `peek`, only looks). */
  #take(n: number, peek = false): Buffer {
    const first = this.#chunks[0]!
    let out: Buffer
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (!peek) {
        if (first.length === n) this.#chunks.shift()
        else this.#chunks[0] = first.subarray(n)
      }
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      let i = 0
      while (at < n) {
        const c = this.#chunks[i]!
        const k = Math.min(c.length, n - at)
        c.copy(out, at, 0, k)
        at += k
        if (!peek) {
          if (k === c.length) {
            this.#chunks.shift()
            continue
          }
          this.#chunks[0] = c.subarray(k)
        }
        i++
      }
    }
    if (!peek) this.#buffered -= n
    return out
  }

  // The stream ended or failed. Where the end has a better reason (a child's exit code or signal,
  // after an EPIPE on its stdin, say), that reason is the one reported.
  #ended(fallback: CloseInfo = { reason: 'peer' }): void {
    if (this.#closed) return
    const info = this.#opts.endInfo?.()
    const better = (i: CloseInfo) => (i.exitCode != null || i.signal != null || i.error !== undefined ? i : fallback)
    if (info instanceof Promise) info.then((i) => this.close(better(i)), () => this.close(fallback))
    else this.close(info === undefined ? fallback : better(info))
  }

  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    for (const [emitter, event, fn] of this.#listeners) emitter.off(event, fn)
    // keep swallowing late errors (e.g. EPIPE after the peer went away): they are not news now
    this.#in.on('error', noop)
    this.#out.on('error', noop)
    this.#chunks = []
    // a local close still delivers what was sent before it (the connection's goodbye)
    if (info.reason === 'local' && this.#pending.length > 0 && this.#out.writable) this.#out.write(Buffer.concat(this.#pending))
    this.#pending = []
    this.#closing = (async () => {
      if (this.#opts.teardown !== undefined) await this.#opts.teardown()
      else if (info.reason === 'local') await endGracefully(this.#in, this.#out)
      else destroy(this.#in, this.#out)
    })()
    this.#inbox.close(info)
    return this.#closing
  }
}

function noop() {}

/** Ends the output (the peer sees the end after the last frame), then lets go of both sides. */
function endGracefully(input: Readable, output: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      destroy(input, output)
      resolve()
    }
    const timer = setTimeout(done, 1000)
    timer.unref?.()
    if (output.writableFinished || output.destroyed) return done()
    output.once('finish', done)
    output.once('close', done)
    output.end()
  })
}

function destroy(input: Readable, output: Writable): void {
  output.destroy()
  if (input !== (output as unknown)) input.destroy()
}
