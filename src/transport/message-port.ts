// Transport over a MessagePort-like endpoint (MessagePort, Worker, parentPort): structured clone
// carries each batch, and transfer lists move buffers and ports without copying.
import type { CloseInfo } from '../errors.ts'
import type { Transport, TransportSink, Transferable } from './transport.ts'
import { Inbox } from './inbox.ts'

/** What the adapter needs of a port: Node's MessagePort and Worker both fit. */
export interface PortLike {
  postMessage(value: unknown, transfer?: readonly Transferable[]): void
  on(event: 'message', listener: (value: unknown) => void): unknown
  on(event: 'close', listener: () => void): unknown
  off(event: 'message', listener: (value: unknown) => void): unknown
  off(event: 'close', listener: () => void): unknown
  close?(): void
  start?(): void
}

export class MessagePortTransport implements Transport {
  readonly bytesIn = 0
  readonly bytesOut = 0
  #port: PortLike
  #inbox = new Inbox()
  #closed = false
  #closing: Promise<void> | undefined
  #onMessage = (data: unknown) => this.#inbox.deliver(data)
  #onClose = () => this.close({ reason: 'peer' })
  /** Called on close to release what the adapter owns beyond the port (a worker to stop). */
  #teardown: (() => void | Promise<void>) | undefined

  /**
   * @param port the endpoint; listening starts at once so nothing sent early is lost
   * @param teardown what to do on close instead of closing the port (e.g. terminate a worker)
   */
  constructor(port: PortLike, teardown?: () => void | Promise<void>) {
    this.#port = port
    this.#teardown = teardown
    port.on('message', this.#onMessage)
    port.on('close', this.#onClose)
  }

  start(sink: TransportSink): void {
    this.#inbox.start(sink)
  }

  send(data: unknown, transfer?: readonly Transferable[]): void {
    if (this.#closed) return
    this.#port.postMessage(data, transfer)
  }

  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    this.#port.off('message', this.#onMessage)
    this.#port.off('close', this.#onClose)
    this.#closing = Promise.resolve(this.#teardown ? this.#teardown() : this.#port.close?.()).then(() => {})
    this.#inbox.close(info)
    return this.#closing
  }
}
