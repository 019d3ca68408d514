// Connections over message endpoints: pair() in one process, connectPort() over any port or
// channel you have (Node-style or web-style).
import { MessageChannel } from 'node:worker_threads'
import { Connection } from '../protocol/connection.ts'
import { MessagePortTransport, portStyle, type PortLike, type WebPortLike } from '../transport/message-port.ts'
import type { ConnectionOptions } from '../types.ts'

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
export function connectPort<T = unknown>(port: PortLike | WebPortLike, options?: ConnectionOptions): Connection<T> {
  if (portStyle(port) === undefined) {
    throw new TypeError(
      'connectPort() needs a MessagePort-like endpoint: Node-style (postMessage, on, off: MessagePort, Worker, parentPort) ' +
        'or web-style (postMessage, addEventListener, removeEventListener: BroadcastChannel, an EventTarget port)',
    )
  }
  return new Connection<T>(new MessagePortTransport(port), options).describe('port', '')
}
