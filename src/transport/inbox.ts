// What every transport adapter does the same way: hold messages that arrive before start(), then
// deliver them in order; close the sink once.
import type { CloseInfo } from '../errors.ts'
import type { TransportSink } from './transport.ts'

export class Inbox {
  #sink: TransportSink | undefined
  #held: unknown[] | undefined = []
  #closedWith: CloseInfo | undefined

  /** Starts delivery: first what was held, then each message as it comes. */
  start(sink: TransportSink): void {
    if (this.#closedWith !== undefined) return sink.close(this.#closedWith)
    const held = this.#held ?? []
    this.#sink = sink
    this.#held = undefined
    for (const m of held) {
      if (this.#sink === undefined) return
      sink.message(m)
    }
  }

  deliver(message: unknown): void {
    if (this.#sink !== undefined) this.#sink.message(message)
    else this.#held?.push(message)
  }

  /** Hands a fault in the peer's input to the sink; false if it takes none (then close). */
  fault(error: Error): boolean {
    if (this.#sink?.fault === undefined) return false
    this.#sink.fault(error)
    return true
  }

  /** Tells the sink why the transport closed, once; later messages are dropped. */
  close(info: CloseInfo): void {
    if (this.#closedWith !== undefined) return
    this.#closedWith = info
    const sink = this.#sink
    this.#sink = undefined
    this.#held = undefined
    sink?.close(info)
  }
}
