// Transport over a worker thread, seen from the parent: the Worker object is the port, and its
// 'error' and 'exit' events say why the connection ended (the exit code, the uncaught error).
import type { Worker } from 'node:worker_threads'
import { ProtocolError, type CloseInfo } from '../errors.ts'
import type { Transport, TransportSink, Transferable } from './transport.ts'
import { Inbox } from './inbox.ts'
import { holdOpen } from './refs.ts'

export class WorkerTransport implements Transport {
  readonly bytesIn = 0
  readonly bytesOut = 0
  readonly wholeBuffers = true
  #worker: Worker
  #inbox = new Inbox()
  #error: unknown
  #exited: Promise<number>
  #closed = false
  #closing: Promise<void> | undefined
  #onMessage = (data: unknown) => this.#inbox.deliver(data)
  #onError = (err: unknown) => {
    this.#error = err
  }
  #onMessageError = (err: unknown) => {
    void this.close({ reason: 'error', error: new ProtocolError('a message from the worker could not be deserialized', { cause: err }) })
  }

  constructor(worker: Worker) {
    this.#worker = worker
    worker.on('message', this.#onMessage)
    worker.on('error', this.#onError)
    worker.on('messageerror', this.#onMessageError)
    this.#exited = new Promise((resolve) => {
      worker.once('exit', (code) => {
        resolve(code)
        const info: CloseInfo = this.#error === undefined ? { reason: 'peer', exitCode: code } : { reason: 'error', exitCode: code, error: this.#error }
        void this.close(info)
      })
    })
  }

  start(sink: TransportSink): void {
    this.#inbox.start(sink)
  }

  send(data: unknown, transfer?: readonly Transferable[]): void {
    if (this.#closed) return
    this.#worker.postMessage(data, transfer)
  }

  ref(on: boolean): void {
    holdOpen([this.#worker], on)
  }

  /** Stops the worker (terminate) unless it already exited; resolves once it has. */
  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    this.#worker.off('message', this.#onMessage)
    this.#worker.off('messageerror', this.#onMessageError)
    this.#closing = (async () => {
      await this.#worker.terminate()
      await this.#exited
    })()
    this.#inbox.close(info)
    return this.#closing
  }
}
