// A byte stream over a MessagePort, for listen()'s worker isolation: the server's thread relays a
// client socket to the worker that serves it. Both ends are a PortDuplex; each side acknowledges
// the bytes it has consumed, so at most WINDOW bytes are ever in flight one way (backpressure).
import { Duplex } from 'node:stream'
import type { MessagePort } from 'node:worker_threads'

/** Unacknowledged bytes a side may have sent before its writes wait. */
const WINDOW = 1024 * 1024

// {d: bytes} data, {a: n} n bytes consumed, {e: 1} end of writes, {x: 1} destroyed
type Relayed = { d: Uint8Array } | { a: number } | { e: 1 } | { x: 1 }

/** One end of a relayed byte stream. Destroying or ending either end ends the other's reads. */
export class PortDuplex extends Duplex {
  #port: MessagePort
  #unacked = 0
  #waiting: (() => void) | undefined
  #toAck = 0
  #gone = false

  constructor(port: MessagePort) {
    super({ allowHalfOpen: false })
    this.#port = port
    port.on('message', (m: Relayed) => this.#receive(m))
    port.on('close', () => this.finish())
  }

  /**
   * The other end is gone (its thread ended): what it sent is still read out to the end, then
   * this end's readable ends; what is written from now on goes nowhere. Idempotent.
   */
  finish(): void {
    if (this.#gone) return
    this.#gone = true
    this.push(null)
    this.#waiting?.()
    this.#waiting = undefined
  }

  #receive(m: Relayed): void {
    if ('d' in m) {
      const bytes = Buffer.from(m.d.buffer, m.d.byteOffset, m.d.byteLength)
      if (this.push(bytes)) this.#post({ a: bytes.length })
      else this.#toAck += bytes.length
    } else if ('a' in m) {
      this.#unacked -= m.a
      if (this.#unacked <= WINDOW && this.#waiting) {
        const go = this.#waiting
        this.#waiting = undefined
        go()
      }
    } else if ('e' in m) this.push(null)
    else this.finish()
  }

  #post(m: Relayed): void {
    if (this.#gone) return
    try {
      this.#port.postMessage(m)
    } catch {
      this.destroy()
    }
  }

  override _read(): void {
    if (this.#toAck === 0) return
    this.#post({ a: this.#toAck })
    this.#toAck = 0
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#post({ d: chunk })
    this.#unacked += chunk.length
    if (this.#gone || this.#unacked <= WINDOW) callback()
    else this.#waiting = () => callback()
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#post({ e: 1 })
    callback()
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#post({ x: 1 })
    this.#port.close()
    this.#waiting = undefined
    callback(err)
  }
}
