// Connections over message endpoints: pair() in one process, connectPort() over any port or
// channel you have (Node-style or web-style).
import { MessageChannel } from 'node:worker_threads'
import { Connection } from '../protocol/connection.ts'
import { MessagePortTransport, portStyle, type PortLike, type WebPortLike } from '../transport/message-port.ts'
import { SharedMemoryTransport, ringBytesFor, setupBuffer, setupMessage, type SharedMemoryOptions } from '../transport/shared-memory.ts'
import { createRings } from '../transport/shared-memory-ring.ts'
import type { Transport } from '../transport/transport.ts'
import { validateOptions } from '../protocol/options.ts'
import { ConnectionClosedError } from '../errors.ts'
import type { ConnectionOptions } from '../types.ts'

/** connectPort() options: connection options, and whether to carry calls through shared memory. */
export interface PortConnectOptions extends ConnectionOptions {
  /**
   * Make rings in shared memory and carry calls through them (the port then carries only what
   * they cannot: transfer lists, batches over half a ring). The far side must take the port
   * with acceptPort() (or be a worker's serveParent() on its parentPort). Node-style ports only.
   */
  sharedMemory?: boolean | SharedMemoryOptions
}

/**
 * Two connected ends in one process, over a MessageChannel: `a.root` is b's root and `b.root`
 * is a's. For tests and for trying things out. Close either end to close both.
 *
 * Typed from the roots given (`pair({}, { root: new Service() })` makes `a.root` a
 * `Remote<Service>`), or explicitly: `pair<A, B>()` gives `[Connection<A>, Connection<B>]`, so
 * `a.root` is a `Remote<A>` (b's root is an A) and `b.root` a `Remote<B>`.
 */
export function pair<A = unknown, B = unknown>(
  optionsA?: ConnectionOptions & { root?: B },
  optionsB?: ConnectionOptions & { root?: A },
): [Connection<A>, Connection<B>] {
  const { port1, port2 } = new MessageChannel()
  const a = connectPort<A>(port1, optionsA).describe('pair', '')
  try {
    return [a, connectPort<B>(port2, optionsB).describe('pair', '')]
  } catch (err) {
    void a.close()
    throw err
  }
}

/**
 * A connection over a message endpoint you have. Returns at once; the handshake continues in the
 * background (`conn.ready`) and operations queue until it ends. The connection owns the endpoint:
 * closing it removes its listeners and calls the endpoint's `close()`, if it has one.
 *
 * Two shapes are accepted (Node-style is taken when an endpoint has both, as a Node MessagePort does):
 * - Node-style, `postMessage` with `on`/`off`, the message as the listener's argument: a
 *   MessagePort, a Worker, `parentPort`. Its 'close' event closes the connection (reason 'peer').
 * - Web-style, `postMessage` with `addEventListener`/`removeEventListener`, the message as
 *   `event.data`: a BroadcastChannel, a MessagePort used as an EventTarget. `start()` is called
 *   if present. Such endpoints mostly dispatch no 'close' event, so the connection learns that
 *   the peer went away only from the peer's goodbye (sent by its `close()`); a peer that dies
 *   without one leaves calls pending unless `heartbeat` or `timeout` is set.
 *
 * A BroadcastChannel delivers every message to every other channel of its name, in any thread,
 * so one name must carry exactly one pair of peers. It drops what is sent while no other channel
 * of the name listens; the handshake copes (a hello sent before its sender heard the peer is
 * answered), so the two sides may connect in any order, across threads too. It has no transfer list:
 * `transfer()`d buffers are copied, and ports cannot cross. An open channel keeps the process
 * alive, as a port does, until the connection (or the channel) is closed.
 *
 * Throws TypeError, naming both shapes, for anything else.
 */
export function connectPort<T = unknown>(port: PortLike | WebPortLike, options?: PortConnectOptions): Connection<T> {
  const style = portStyle(port)
  if (style === undefined) {
    throw new TypeError(
      'connectPort() needs a MessagePort-like endpoint: Node-style (postMessage, on, off: MessagePort, Worker, parentPort) ' +
        'or web-style (postMessage, addEventListener, removeEventListener: BroadcastChannel, an EventTarget port)',
    )
  }
  if (options === undefined || !('sharedMemory' in options)) return new Connection<T>(new MessagePortTransport(port), options).describe('port', '')
  const { sharedMemory, ...connOptions } = options
  const ringBytes = ringBytesFor(sharedMemory)
  if (ringBytes === undefined) return new Connection<T>(new MessagePortTransport(port), connOptions).describe('port', '')
  validateOptions(connOptions)
  if (style !== 'node') throw new TypeError('connectPort(port, { sharedMemory }) needs a Node-style port (a MessagePort, a Worker): the far side must see its close')
  const sab = createRings(ringBytes)
  // first on the port, before the hello: acceptPort() on the far side learns of the rings from it
  port.postMessage(setupMessage(sab))
  return new Connection<T>(new SharedMemoryTransport(new MessagePortTransport(port), sab, 0), connOptions).describe('shared-memory', '')
}

/**
 * The far side of connectPort() on a Node-style port (MessagePort, parentPort): waits for the
 * first message and connects as the other side asked, over shared memory (connectPort(port,
 * { sharedMemory })) or over the port alone. Resolves once the first message came (the handshake
 * continues in the background, as with connectPort()); rejects with ConnectionClosedError if the
 * port closes first, TypeError for a web-style endpoint or a bad option. The connection owns the port.
 */
export async function acceptPort<T = unknown>(port: PortLike, options?: ConnectionOptions): Promise<Connection<T>> {
  if (options !== undefined) validateOptions(options)
  const transport = await acceptTransport(port)
  return new Connection<T>(transport, options).describe(transport instanceof SharedMemoryTransport ? 'shared-memory' : 'port', '')
}

/** @internal acceptPort()'s transport, for serveParent(): the first message decides. */
export function acceptTransport(port: PortLike): Promise<Transport> {
  if (portStyle(port) !== 'node') return Promise.reject(new TypeError('acceptPort() needs a Node-style port (postMessage, on, off): a MessagePort, parentPort'))
  return new Promise((resolve, reject) => {
    const first = (message: unknown) => {
      port.off('message', first)
      port.off('close', closed)
      // the transport listens at once, in this same turn: nothing after the first message is lost
      const sab = setupBuffer(message)
      if (sab !== undefined) return resolve(new SharedMemoryTransport(new MessagePortTransport(port), sab, 1))
      resolve(replaying(message, new MessagePortTransport(port)))
    }
    const closed = () => {
      port.off('message', first)
      port.off('close', closed)
      reject(new ConnectionClosedError({ reason: 'peer' }, 'the port closed before the other side connected'))
    }
    port.on('message', first)
    port.on('close', closed)
    port.start?.()
  })
}

/** `inner`, with `first` (already taken off the port) delivered before what it holds. */
function replaying(first: unknown, inner: Transport): Transport {
  return {
    // on a later microtask, as a port delivers: the connection sends its hello before it hears the peer's
    start(sink) {
      queueMicrotask(() => {
        sink.message(first)
        inner.start(sink)
      })
    },
    send: (data, transfer) => inner.send(data, transfer),
    close: (info) => inner.close(info),
    ref: (on) => inner.ref?.(on),
    wholeBuffers: inner.wholeBuffers,
    get bytesIn() {
      return inner.bytesIn
    },
    get bytesOut() {
      return inner.bytesOut
    },
  }
}
