// Transport over a Node IPC channel (child_process.fork with serialization 'advanced', so the
// channel itself speaks node:v8): the parent's ChildProcess on one side, `process` on the other.
import { ProtocolError, type CloseInfo } from '../errors.ts'
import type { Transport, TransportLimits, TransportSink } from './transport.ts'
import { Inbox } from './inbox.ts'
import { holdOpen } from './refs.ts'

/** What the adapter needs of an IPC endpoint: a ChildProcess or the child's `process`. */
export interface IpcEndpoint {
  send?(message: unknown, callback?: (err: Error | null) => void): boolean
  on(event: 'message', fn: (m: unknown) => void): unknown
  on(event: 'disconnect', fn: () => void): unknown
  off(event: 'message', fn: (m: unknown) => void): unknown
  off(event: 'disconnect', fn: () => void): unknown
  readonly connected?: boolean
}

// Node's IPC channel does not tell how many bytes wait in it, so the outgoing bound counts
// messages: limits.maxOutgoingBytes / 32 KiB (4096 by default).
const UNSENT_UNIT = 32 * 1024
const DEFAULT_MAX_UNSENT = 4096

export interface IpcTransportOptions {
  /** Why the channel ended, once known (the child's exit code and signal, on the parent side). */
  endInfo?: () => Promise<CloseInfo>
  /** Releases what the adapter owns on close (disconnects, stops the child). */
  teardown: () => void | Promise<void>
  /** What else keeps the process alive for this channel (the child's stderr pipe), for ref(). */
  holds?: readonly unknown[]
}

export class IpcTransport implements Transport {
  readonly bytesIn = 0
  readonly bytesOut = 0
  #ep: IpcEndpoint
  #opts: IpcTransportOptions
  #inbox = new Inbox()
  #closed = false
  #closing: Promise<void> | undefined
  /** Set once the channel is known to be gone: the close waits only for the reason. */
  #ending = false
  #onMessage = (m: unknown) => this.#inbox.deliver(m)
  #onDisconnect = () => this.#end({ reason: 'peer' }, false)
  // A write that fails (EPIPE, ERR_IPC_CHANNEL_CLOSED) usually means the child is dying: a busy
  // parent's next write often fails before the channel's end or the child's exit is read. The
  // exit (code, signal) is the truth to report when it follows soon; the write error only when
  // it does not.
  #onSent = (err: Error | null) => {
    this.#unsent--
    if (err) this.#end({ reason: 'error', error: err }, true)
  }
  /** Messages handed to the channel and not yet written (Node does not count their bytes). */
  #unsent = 0
  /** Past this many unwritten messages the peer is taken for one that does not read. */
  #maxUnsent = DEFAULT_MAX_UNSENT

  constructor(endpoint: IpcEndpoint, options: IpcTransportOptions) {
    this.#ep = endpoint
    this.#opts = options
    endpoint.on('message', this.#onMessage)
    endpoint.on('disconnect', this.#onDisconnect)
  }

  /**
   * The channel is gone: close once, with the end info (bounded by `endInfo` itself) where it
   * says more than `fallback`. The first sign wins the wait; later ones (every write queued
   * behind the first failed one fails too) change nothing.
   */
  #end(fallback: CloseInfo, needsExit: boolean): void {
    if (this.#closed || this.#ending) return
    this.#ending = true
    const info = this.#opts.endInfo?.()
    if (info === undefined) return void this.close(fallback)
    const better = (i: CloseInfo) => (!needsExit || i.exitCode != null || i.signal != null ? i : fallback)
    info.then(
      (i) => this.close(better(i)),
      () => this.close(fallback),
    )
  }

  start(sink: TransportSink): void {
    this.#inbox.start(sink)
  }

  ref(on: boolean): void {
    // a ChildProcess and its channel keep the loop alive separately; `process` has only the channel
    const ep = this.#ep as { channel?: unknown }
    holdOpen([this.#ep === (process as unknown) ? undefined : this.#ep, ep.channel, ...(this.#opts.holds ?? [])], on)
  }

  /** Only the outgoing bound applies here: the channel frames and sizes messages itself. */
  setLimits(limits: TransportLimits): void {
    this.#maxUnsent = Math.max(64, Math.floor(limits.outgoing / UNSENT_UNIT))
  }

  send(data: unknown): void {
    // a dead channel only fails the write again: drop it, as after close
    if (this.#closed || this.#ending || this.#ep.connected === false) return
    if (this.#unsent >= this.#maxUnsent) {
      const error = new ProtocolError(`the peer is not reading: ${this.#unsent} messages wait to be written (limits.maxOutgoingBytes / 32 KiB over IPC is ${this.#maxUnsent})`)
      return void this.close({ reason: 'error', error })
    }
    this.#unsent++
    this.#ep.send!(data, this.#onSent)
  }

  close(info: CloseInfo = { reason: 'local' }): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#closed = true
    this.#ep.off('message', this.#onMessage)
    // Node's channel delivers each message of a read chunk on its own tick; one that comes after
    // a disconnect with no 'message' listener left is pushed onto the nulled channel and throws
    // (internal/child_process emit()). A closing side often still has its peer's last words in
    // flight (a DENY crossing ours), so it keeps listening to nothing.
    this.#ep.on('message', noop)
    this.#ep.off('disconnect', this.#onDisconnect)
    this.#closing = Promise.resolve(this.#opts.teardown())
    this.#inbox.close(info)
    return this.#closing
  }
}

function noop() {}
