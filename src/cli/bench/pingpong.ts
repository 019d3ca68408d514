// The two ends of every row: the object farside serves, and the hand-written raw ping-pong each
// transport is measured against (a promise per call matched by id; over streams one 4-byte
// big-endian length and a node:v8 body per message, one write each — farside's framing, no batching).
import { deserialize, serialize } from 'node:v8'
import type { Readable, Writable } from 'node:stream'
import type { Connection } from '../../index.ts'

/** A started row: the calls the runner makes, each resolving when its answer is home. */
export interface Session {
  /** add(a, b) on the far side: one round trip. */
  add(a: number, b: number): PromiseLike<number>
  /** The bytes out and back by value (the payload rows); absent where a row cannot carry bytes. */
  echo?(bytes: Uint8Array): PromiseLike<Uint8Array>
  /** Stops the far side and lets go of the channel. Idempotent. */
  close(): Promise<void>
}

/** What farside serves in every row (plain functions: they cross by reference as the root). */
export function service() {
  return {
    add: (a: number, b: number) => a + b,
    echo: (bytes: Uint8Array) => bytes,
  }
}

/** farside's client over `conn`, whose root is service(); closing it closes the connection. */
export function farsideSession(conn: Connection): Session {
  const root = conn.root as unknown as { add(a: number, b: number): Promise<number>; echo(b: Uint8Array): Promise<Uint8Array> }
  return { add: (a, b) => root.add(a, b), echo: (bytes) => root.echo(bytes), close: once(() => conn.close()) }
}

/** The raw far side: [id, a, b] → [id, a + b]; [id, bytes] → [id, bytes]. */
export function answer(message: unknown[]): unknown[] {
  return message.length === 3 ? [message[0], (message[1] as number) + (message[2] as number)] : message
}

/** A promise per call, matched by id so that many may be in flight; feed every reply to `reply`. */
export function callTable(send: (message: unknown[]) => void) {
  const pending = new Map<number, (v: unknown) => void>()
  let next = 0
  const call = <T>(message: (id: number) => unknown[]) => {
    const id = next++
    return new Promise<T>((resolve) => {
      pending.set(id, resolve as (v: unknown) => void)
      send(message(id))
    })
  }
  return {
    reply(m: unknown): void {
      // [id, value]
      const [id, value] = m as [number, unknown]
      const resolve = pending.get(id)
      pending.delete(id)
      resolve?.(value)
    },
    add: (a: number, b: number) => call<number>((id) => [id, a, b]),
    echo: (bytes: Uint8Array) => call<Uint8Array>((id) => [id, bytes]),
  }
}

/** Below this a frame is copied into one buffer (one write); above, header and body go out corked (no copy). */
const SMALL = 64 * 1024

/** Writes one frame: a 4-byte big-endian length, then the node:v8 body. */
export function writeFrame(out: Writable, message: unknown): boolean {
  const body = serialize(message)
  if (body.length < SMALL) {
    const frame = Buffer.allocUnsafe(4 + body.length)
    frame.writeUInt32BE(body.length, 0)
    body.copy(frame, 4)
    return out.write(frame)
  }
  const header = Buffer.allocUnsafe(4)
  header.writeUInt32BE(body.length, 0)
  out.cork()
  out.write(header)
  const ok = out.write(body)
  out.uncork()
  return ok
}

/** Cuts a byte stream into frames and hands each decoded message to `onMessage` (each byte copied at most once). */
export function frameReader(onMessage: (message: unknown) => void): (chunk: Buffer) => void {
  const chunks: Buffer[] = []
  let buffered = 0
  let need = -1
  // n bytes off the front: a view when the first chunk holds them, else one copy of the pieces
  const take = (n: number): Buffer => {
    const first = chunks[0]!
    if (first.length >= n) {
      if (first.length === n) chunks.shift()
      else chunks[0] = first.subarray(n)
      buffered -= n
      return first.subarray(0, n)
    }
    const out = Buffer.allocUnsafe(n)
    for (let at = 0; at < n; ) {
      const c = chunks[0]!
      const k = Math.min(c.length, n - at)
      c.copy(out, at, 0, k)
      at += k
      if (k === c.length) chunks.shift()
      else chunks[0] = c.subarray(k)
    }
    buffered -= n
    return out
  }
  return (chunk) => {
    chunks.push(chunk)
    buffered += chunk.length
    for (;;) {
      if (need < 0) {
        if (buffered < 4) return
        need = take(4).readUInt32BE(0)
      }
      if (buffered < need) return
      const body = take(need)
      need = -1
      onMessage(deserialize(body))
    }
  }
}

/** Serves the raw ping-pong on a byte stream pair: one frame in, one frame out. */
export function serveFrames(input: Readable, output: Writable): void {
  input.on('data', frameReader((m) => writeFrame(output, answer(m as unknown[]))))
}

/** The raw client over a byte stream pair (stdio, TCP, Unix, TLS). */
export function rawStreamSession(input: Readable, output: Writable, close: () => Promise<void>): Session {
  const table = callTable((m) => writeFrame(output, m))
  input.on('data', frameReader(table.reply))
  return { add: table.add, echo: table.echo, close: once(close) }
}

/** What the raw postMessage client needs of a port: Worker, MessagePort and a ChildProcess fit. */
export interface RawPort {
  on(event: 'message', listener: (value: unknown) => void): unknown
}

/** The raw client over a message channel: `send` posts one message (structured clone or IPC's v8). */
export function rawMessageSession(port: RawPort, send: (m: unknown[]) => void, close: () => Promise<void>): Session {
  const table = callTable(send)
  port.on('message', table.reply)
  return { add: table.add, echo: table.echo, close: once(close) }
}

/** `fn` run at most once; later calls get the first call's promise. */
export function once(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined
  return () => (done ??= fn())
}
