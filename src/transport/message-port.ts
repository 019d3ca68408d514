// Transport over a message endpoint: Node-style (MessagePort, Worker, parentPort: `.on`, the
// message as the argument) or web-style (BroadcastChannel, an EventTarget port: `event.data`).
// Structured clone carries each batch; transfer lists move buffers and ports where the endpoint can.
import type { CloseInfo } from '../errors.ts'
import type { Transport, TransportSink, Transferable } from './transport.ts'
import { Inbox } from './inbox.ts'
import { holdOpen } from './refs.ts'

/** A Node-style endpoint: Node's MessagePort, Worker and parentPort fit. */
export interface PortLike {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void
  on(event: 'message', listener: (value: unknown) => void): unknown
  on(event: 'close', listener: () => void): unknown
  off(event: 'message', listener: (value: unknown) => void): unknown
  off(event: 'close', listener: () => void): unknown
  close?(): void
  start?(): void
}

/**
 * A web-style endpoint, as comlink takes: a BroadcastChannel, or a MessagePort used through its
 * EventTarget interface. Messages arrive as `event.data`. A 'close' event is listened for, but
 * most such endpoints never dispatch one (a BroadcastChannel cannot see its peers).
 */
export interface WebPortLike {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void
  // `any`: DOM's and Node's EventTarget listener types differ; only `event.data` is read
  addEventListener(type: 'message' | 'close', listener: (event: any) => void): void
  removeEventListener(type: 'message' | 'close', listener: (event: any) => void): void
  close?(): void
  start?(): void
}

/** Which shape an endpoint has; Node-style wins when it has both (a Node MessagePort does). */
export function portStyle(port: unknown): 'node' | 'web' | undefined {
  if (port === null || typeof port !== 'object') return undefined
  const p = port as Record<string, unknown>
  if (typeof p.postMessage !== 'function') return undefined
  if (typeof p.on === 'function' && typeof p.off === 'function') return 'node'
  if (typeof p.addEventListener === 'function' && typeof p.removeEventListener === 'function') return 'web'
  return undefined
}

export class MessagePortTransport implements Transport {
  readonly bytesIn = 0
  readonly bytesOut = 0
  readonly wholeBuffers = true
  #port: PortLike | WebPortLike
  #inbox = new Inbox()
  #closed = false
  #closing: Promise<void> | undefined
  #onMessage = (data: unknown) => this.#inbox.deliver(data)
  #onEvent = (event: { data: unknown }) => this.#inbox.deliver(event.data)
  #onClose = () => void this.close({ reason: 'peer' })
  #unlisten: () => void
  /** Called on close to release what the adapter owns beyond the port (a worker to stop). */
  #teardown: (() => void | Promise<void>) | undefined

  /**
   * @param port the endpoint; listening starts at once so nothing sent early is lost. Throws
   *   TypeError if it is neither Node-style nor web-style (see portStyle).
   * @param teardown what to do on close instead of closing the port (e.g. terminate a worker)
   */
  constructor(port: PortLike | WebPortLike, teardown?: () => void | Promise<void>) {
    this.#port = port
    this.#teardown = teardown
    const style = portStyle(port)
    // two listener sets, chosen once, so the Node path delivers with no per-message test
    if (style === 'node') {
      const p = port as PortLike
      p.on('message', this.#onMessage)
      p.on('close', this.#onClose)
      this.#unlisten = () => {
        p.off('message', this.#onMessage)
        p.off('close', this.#onClose)
      }
    } else if (style === 'web') {
      const p = port as WebPortLike
      p.addEventListener('message', this.#onEvent)
      p.addEventListener('close', this.#onClose)
      // a web MessagePort holds its messages until started (an onmessage setter would start it)
      p.start?.()
      this.#unlisten = () => {
        p.removeEventListener('message', this.#onEvent)
        p.removeEventListener('close', this.#onClose)
      }
    } else {
      throw new TypeError('not a message endpoint: expected postMessage with on/off (Node style) or with addEventListener/removeEventListener (web style)')
    }
  }

  start(sink: TransportSink): void {
    this.#inbox.start(sink)
  }

  send(data: unknown, transfer?: readonly Transferable[]): void {
    if (this.#closed) return
    this.#port.postMessage(data, transfer)
  }

  ref(on: boolean): void {
    holdOpen([this.#port], on)
  }

  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    this.#unlisten()
    this.#closing = Promise.resolve(this.#teardown ? this.#teardown() : this.#port.close?.()).then(() => {})
    this.#inbox.close(info)
    return this.#closing
  }
}
