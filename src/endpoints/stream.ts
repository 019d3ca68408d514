// Connections over byte streams you already have: sockets, TLS sockets, a pair of pipes.
import * as net from 'node:net'
import type * as tls from 'node:tls'
import type { Duplex, Readable, Writable } from 'node:stream'
import { Connection } from '../protocol/connection.ts'
import { StreamTransport } from '../transport/stream.ts'
import { BYE } from '../protocol/messages.ts'
import type { ConnectionOptions } from '../types.ts'
import { withHeartbeat } from './heartbeat.ts'

/**
 * A connection over a duplex stream (net.Socket, tls.TLSSocket, ...) or a `{ readable, writable }`
 * pair: length-prefixed frames of node:v8-serialized batches. Returns at once; the handshake
 * continues in the background (`conn.ready`). The connection owns the stream: closing it ends
 * the stream, and the stream ending or failing closes the connection. The heartbeat is on
 * (15 s) unless `options.heartbeat` says otherwise.
 */
export function connectStream<T = unknown>(stream: Duplex | { readable: Readable; writable: Writable }, options: ConnectionOptions = {}): Connection<T> {
  const pairOf = stream as { readable: unknown; writable: unknown }
  let input: Readable
  let output: Writable
  if (pairOf !== null && typeof pairOf === 'object' && isReadable(pairOf.readable) && isWritable(pairOf.writable)) {
    input = pairOf.readable as Readable
    output = pairOf.writable as Writable
  } else if (isReadable(stream) && isWritable(stream)) {
    input = stream as Duplex
    output = stream as Duplex
  } else {
    throw new TypeError('connectStream() needs a duplex stream or { readable, writable }')
  }
  const max = options?.limits?.maxFrameBytes
  const conn = new Connection<T>(new StreamTransport(input, output, max !== undefined ? { maxFrameBytes: max } : {}), withHeartbeat(options))
  return conn.describe(...describeStream(input))
}

/**
 * Tells a stream's peer why it is turned away (a goodbye with the reason, as a connection's fault
 * would), then ends the stream: its connect() fails with that reason rather than a bare reset.
 */
export function turnAway(stream: Duplex, reason: string): void {
  const transport = new StreamTransport(stream, stream)
  // [BYE, reason]
  transport.send([BYE, reason])
  void transport.close({ reason: 'local' })
}

function isReadable(s: unknown): boolean {
  return s !== null && typeof s === 'object' && typeof (s as Readable).on === 'function' && typeof (s as Readable).pipe === 'function'
}

function isWritable(s: unknown): boolean {
  return s !== null && typeof s === 'object' && typeof (s as Writable).write === 'function' && typeof (s as Writable).end === 'function'
}

/** A stream's transport kind and peer, for `conn.transport` and `conn.peer`. */
function describeStream(stream: Readable): [string, string] {
  if (!(stream instanceof net.Socket)) return ['stream', '']
  if ((stream as tls.TLSSocket).encrypted === true) return ['tls', addressOf(stream)]
  // a Unix socket has no remote address (and the server side's peer has no path either)
  return stream.remoteAddress === undefined ? ['unix', ''] : ['tcp', addressOf(stream)]
}

function addressOf(socket: net.Socket): string {
  const host = socket.remoteAddress
  if (host === undefined) return ''
  return socket.remoteFamily === 'IPv6' ? `[${host}]:${socket.remotePort}` : `${host}:${socket.remotePort}`
}
