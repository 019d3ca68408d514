// Transport over a byte stream (TCP, Unix socket, TLS, a child's stdio): each message is one
// frame, a 4-byte big-endian length then the node:v8 serialization of the message. Frames sent in
// one tick leave in one write; the writer waits for 'drain' and refuses to buffer without bound.
import { serialize, deserialize } from 'node:v8'
import type { Readable, Writable } from 'node:stream'
import { FRAME_TOO_LARGE, ProtocolError, type CloseInfo } from '../errors.ts'
import type { Transport, TransportLimits, TransportSink } from './transport.ts'
import { Inbox } from './inbox.ts'
import { holdOpen } from './refs.ts'

export const DEFAULT_MAX_FRAME = 64 * 1024 * 1024
/** Bytes waiting to be written, past which a peer that does not read is a fault. */
export const DEFAULT_MAX_OUTGOING = 128 * 1024 * 1024
const HEADER = 4
/**
 * Pieces of a frame smaller than this are copied together into one buffer of up to TAIL bytes: a
 * peer that sends a large frame a byte at a time holds what it sent, not a Buffer object per byte.
 */
const SMALL_PIECE = 16 * 1024
const TAIL = 64 * 1024

export interface StreamTransportOptions {
  /** Largest frame accepted or sent, in bytes, until the connection sets its limits. Default 64 MiB. */
  maxFrameBytes?: number
  /** What to do on close besides ending the streams (e.g. stop a child process). */
  teardown?: () => void | Promise<void>
  /** Close info to use when the stream ends (e.g. a child's exit code), if known by then. */
  endInfo?: () => CloseInfo | Promise<CloseInfo>
  /** What else keeps the process alive for this connection (a child process, its stderr), for ref(). */
  holds?: readonly unknown[]
}

export class StreamTransport implements Transport {
  bytesIn = 0
  bytesOut = 0
  #in: Readable
  #out: Writable
  #inbox = new Inbox()
  #limits: TransportLimits
  // The frame in progress: its header (which may come split), then its body's pieces as they came,
  // joined once when the last is in: one copy of every byte, as for a frame that came whole, and
  // it holds no more than what arrived however large a frame the header announces.
  #head = Buffer.alloc(HEADER)
  #headLength = 0
  /** The body's length once the header is in, else -1. */
  #length = -1
  #parts: Buffer[] = []
  #partBytes = 0
  /** Small pieces, copied together (SMALL_PIECE). */
  #tail: Buffer | undefined
  #tailLength = 0
  /** Whether a whole frame has come yet (the first bytes tell a peer that is not farside). */
  #framed = false
  #pending: Buffer[] = []
  #pendingBytes = 0
  #scheduled = false
  #waitingDrain = false
  #closed = false
  /** A bad frame came: nothing more is read (the connection is closing). */
  #broken = false
  #closing: Promise<void> | undefined
  #opts: StreamTransportOptions
  #listeners: [Readable | Writable, string, (...a: any[]) => void][] = []

  constructor(input: Readable, output: Writable, options: StreamTransportOptions = {}) {
    this.#in = input
    this.#out = output
    this.#opts = options
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME
    this.#limits = { readFrame: max, writeFrame: max, outgoing: DEFAULT_MAX_OUTGOING }
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

  setLimits(limits: TransportLimits): void {
    this.#limits = { ...limits }
  }

  send(data: unknown): void {
    if (this.#closed) return
    const body = serialize(data)
    const limit = this.#limits.writeFrame
    if (body.length > limit) {
      throw Object.assign(new RangeError(`a message of ${body.length} bytes is over the peer's frame limit (${limit} bytes)`), { code: FRAME_TOO_LARGE })
    }
    // a peer that stops reading is a fault, not a reason to buffer without bound: what waits
    // (ours and the socket's) may reach the limit, and one frame more
    // (only once the socket has said it is full: what one turn queues is batching, not backlog)
    const waiting = this.#pendingBytes + this.#out.writableLength
    if (this.#waitingDrain && waiting > this.#limits.outgoing) {
      void this.close({ reason: 'error', error: new ProtocolError(`the peer is not reading: ${waiting} bytes wait to be written (limits.maxOutgoingBytes is ${this.#limits.outgoing})`) })
      return
    }
    const header = Buffer.allocUnsafe(HEADER)
    header.writeUInt32BE(body.length, 0)
    this.#pending.push(header, body)
    this.#pendingBytes += HEADER + body.length
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

  // Whole frames inside a chunk are read in place; only a frame split across chunks is copied,
  // once, when its last piece is in.
  #onData(chunk: Buffer): void {
    if (this.#closed || this.#broken) return
    this.bytesIn += chunk.length
    let at = 0
    if (this.#headLength > 0) {
      at = this.#fill(chunk)
      if (at < 0) return
    }
    while (chunk.length - at >= HEADER) {
      const length = chunk.readUInt32BE(at)
      if (!this.#fits(length, chunk, at)) return
      if (chunk.length - at - HEADER < length) break
      if (!this.#frame(chunk.subarray(at + HEADER, at + HEADER + length))) return
      at += HEADER + length
    }
    if (at === chunk.length) return
    // the start of a frame: its header, or part of it, and what came of its body
    const k = Math.min(HEADER, chunk.length - at)
    chunk.copy(this.#head, 0, at, at + k)
    this.#headLength = k
    if (k === HEADER) this.#start(chunk.subarray(at + HEADER))
  }

  /** The header is in; `body`: the body's first bytes, if they came with it. */
  #start(body?: Buffer): void {
    this.#length = this.#head.readUInt32BE(0)
    if (body !== undefined && body.length > 0) this.#add(body)
  }

  /** Adds a piece of the body to the frame in progress. */
  #add(piece: Buffer): void {
    if (piece.length >= SMALL_PIECE) {
      this.#seal()
      this.#parts.push(piece)
    } else {
      if (this.#tail !== undefined && this.#tailLength + piece.length > this.#tail.length) this.#seal()
      this.#tail ??= Buffer.allocUnsafe(Math.min(TAIL, this.#length - this.#partBytes))
      piece.copy(this.#tail, this.#tailLength)
      this.#tailLength += piece.length
    }
    this.#partBytes += piece.length
  }

  /** The small pieces so far become a part (copied to their size if they fill little of it). */
  #seal(): void {
    const tail = this.#tail
    if (tail === undefined) return
    const used = tail.subarray(0, this.#tailLength)
    this.#parts.push(2 * this.#tailLength < tail.length ? Buffer.from(used) : used)
    this.#tail = undefined
    this.#tailLength = 0
  }

  /** Adds the chunk's start to the frame in progress; returns where the rest starts, or -1. */
  #fill(chunk: Buffer): number {
    let at = 0
    if (this.#length < 0) {
      at = Math.min(HEADER - this.#headLength, chunk.length)
      chunk.copy(this.#head, this.#headLength, 0, at)
      this.#headLength += at
      if (this.#headLength < HEADER) return -1
      if (!this.#fits(this.#head.readUInt32BE(0), this.#head, 0)) return -1
      this.#start()
    }
    const k = Math.min(this.#length - this.#partBytes, chunk.length - at)
    if (k > 0) {
      this.#add(chunk.subarray(at, at + k))
      at += k
    }
    if (this.#partBytes < this.#length) return -1
    this.#seal()
    const frame = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#length)
    this.#forget()
    return this.#frame(frame) ? at : -1
  }

  /** Lets go of the frame in progress. */
  #forget(): void {
    this.#headLength = 0
    this.#length = -1
    this.#parts = []
    this.#partBytes = 0
    this.#tail = undefined
    this.#tailLength = 0
  }

  /** Whether a frame of `length` bytes may come; else closes, saying why (head: its first bytes). */
  #fits(length: number, head: Buffer, at: number): boolean {
    if (length <= this.#limits.readFrame) return true
    const error = this.#framed ? new ProtocolError(`a frame of ${length} bytes is over the limit (${this.#limits.readFrame} bytes)`) : notFarside(head.subarray(at, at + 16), length, this.#limits.readFrame)
    this.#fault(error)
    return false
  }

  /** Delivers one frame's message; false if the transport closed meanwhile. */
  #frame(frame: Buffer): boolean {
    let message: unknown
    try {
      message = deserialize(frame)
    } catch (err) {
      const what = this.#framed ? 'a frame could not be deserialized' : 'the peer does not speak farside (its first frame is not a node:v8 message)'
      this.#fault(new ProtocolError(what, { cause: err }))
      return false
    }
    this.#framed = true
    this.#inbox.deliver(message)
    return !this.#closed
  }

  // What comes after a bad frame cannot be read: stop reading, and let the connection tell the peer.
  #fault(error: Error): void {
    this.#broken = true
    this.#forget()
    if (!this.#inbox.fault(error)) void this.close({ reason: 'error', error })
  }

  // The stream ended or failed. Where the end has a better reason (a child's exit code or signal,
  // after an EPIPE on its stdin, say), that reason is the one reported.
  #ended(fallback: CloseInfo = { reason: 'peer' }): void {
    if (this.#closed) return
    const info = this.#opts.endInfo?.()
    const better = (i: CloseInfo) => (i.exitCode != null || i.signal != null || i.error !== undefined ? i : fallback)
    if (info instanceof Promise) void info.then((i) => this.close(better(i)), () => this.close(fallback))
    else void this.close(info === undefined ? fallback : better(info))
  }

  ref(on: boolean): void {
    holdOpen([this.#in, this.#out, ...(this.#opts.holds ?? [])], on)
  }

  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    for (const [emitter, event, fn] of this.#listeners) emitter.off(event, fn)
    // keep swallowing late errors (e.g. EPIPE after the peer went away): they are not news now
    this.#in.on('error', noop)
    this.#out.on('error', noop)
    this.#forget()
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

/**
 * What the first bytes of a peer that is not farside look like they are: TLS, text (a program
 * printing to stdout before serveParent(), a server of another protocol), or just too large.
 */
function notFarside(head: Buffer, length: number, limit: number): ProtocolError {
  if (head[0] === 0x16 && head[1] === 0x03) return new ProtocolError('the peer speaks TLS and this side does not: pass the `tls` option to both ends, or to neither')
  if (head[0] === 0x15 && head[1] === 0x03) return new ProtocolError('the peer answered with a TLS alert: it expects TLS; pass the `tls` option')
  let text = ''
  for (const b of head) {
    if (b === 0x0a || b === 0x0d || b === 0x09 || (b >= 0x20 && b < 0x7f)) text += b === 0x0a ? '\\n' : b === 0x0d ? '\\r' : b === 0x09 ? '\\t' : String.fromCharCode(b)
    else break
  }
  if (text.length >= 4) return new ProtocolError(`the peer does not speak farside (it sent '${text.slice(0, 12)}…'): is something else writing to this stream, or listening there?`)
  return new ProtocolError(`the first frame, of ${length} bytes, is over the limit (${limit} bytes): the peer may not speak farside`)
}

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
