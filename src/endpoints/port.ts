// Connections over MessagePorts: pair() in one process, connectPort() over any port you have.
import { MessageChannel } from 'node:worker_threads'
import { Connection } from '../protocol/connection.ts'
import { MessagePortTransport, type PortLike } from '../transport/message-port.ts'
import type { ConnectionOptions } from '../types.ts'

/**
 * Two connected ends in one process, over a MessageChannel: `a.root` is b's root and `b.root`
 * is a's. For tests and for trying things out. Close either end to close both.
 */
export function pair(optionsA?: ConnectionOptions, optionsB?: ConnectionOptions): [Connection, Connection] {
  const { port1, port2 } = new MessageChannel()
  const a = connectPort(port1, optionsA)
  try {
    return [a, connectPort(port2, optionsB)]
  } catch (err) {
    void a.close()
    throw err
  }
}

/**
 * A connection over a MessagePort (or anything with postMessage and 'message'/'close' events).
 * Returns at once; the handshake continues in the background (`conn.ready`) and operations
 * queue until it ends. The connection owns the port: closing it closes the port.
 */
export function connectPort(port: PortLike, options?: ConnectionOptions): Connection {
  if (port === null || typeof port !== 'object' || typeof port.postMessage !== 'function' || typeof port.on !== 'function') {
    throw new TypeError('connectPort() needs a MessagePort-like object (postMessage, on)')
  }
  return new Connection(new MessagePortTransport(port), options)
}
