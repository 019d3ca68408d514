// The one interface every transport adapter implements. The protocol core is written against it
// only; it never learns whether it runs over a port, a pipe or a socket.
import type { CloseInfo } from '../errors.ts'
import type { Transferable } from '../types.ts'

// kept for the importers that take it from here
export type { Transferable }

/** What a transport delivers to its connection. */
export interface TransportSink {
  /** One message as the peer sent it (for farside: a batch, an array of wire messages). */
  message(data: unknown): void
  /**
   * The transport is gone: the peer closed, the process exited, the socket reset or a frame was
   * malformed. Called exactly once, after which `message` is never called again.
   */
  close(info: CloseInfo): void
  /**
   * The peer's input is unusable (a frame over the limit, one that does not deserialize): the
   * connection tells the peer why, where it still can, and closes. Transports without it close.
   */
  fault?(error: Error): void
}

/** What a connection bounds on its transport. */
export interface TransportLimits {
  /** Largest incoming frame, in bytes: a larger one closes the transport with ProtocolError. */
  readFrame: number
  /**
   * Largest outgoing frame (the peer's own read limit): `send` of a larger message throws a
   * RangeError whose `code` is FRAME_TOO_LARGE (errors.ts), before anything was written.
   */
  writeFrame: number
  /** Bytes waiting to be written past which a peer that does not read is a fault. */
  outgoing: number
}

/**
 * A bidirectional, ordered, reliable message channel.
 *
 * Rules every adapter keeps:
 * - `start(sink)` is called once; messages that arrive before it are held, not dropped.
 * - `send` never throws for a closed transport: after close it drops the message silently (the
 *   connection has already rejected everything pending). It may throw for a value the transport
 *   cannot serialize, synchronously, before anything was written.
 * - `send` hands `transfer` to the platform where it can move buffers and ports (MessagePort),
 *   and ignores it elsewhere (the bytes are copied by serialization, which is still correct).
 * - `close(info)` is idempotent; it releases every resource (listeners, sockets, handles) and
 *   calls `sink.close` once if it has not been called yet.
 */
export interface Transport {
  start(sink: TransportSink): void
  /**
   * Bounds, where the transport has frames and buffers (streams); others need not implement it.
   * The connection sets them before its handshake (small frames only) and again after it.
   */
  setLimits?(limits: TransportLimits): void
  send(data: unknown, transfer?: readonly Transferable[]): void
  close(info?: CloseInfo): void | Promise<void>
  /**
   * Whether what the transport holds (port, worker, socket, child process) keeps the process
   * alive: `ref(false)` lets it exit while the transport is open, `ref(true)` undoes that.
   * Idempotent. Transports with nothing of the kind need not implement it.
   */
  ref?(on: boolean): void
  /**
   * Whether a typed array crosses with its whole ArrayBuffer, as structured clone carries it
   * (MessagePort, Worker, BroadcastChannel), rather than with its own bytes (v8.serialize on the
   * stream transports, IPC). Where it does, the connection sends a part of a larger buffer as a
   * copy of its own, and moves that copy with the transfer list rather than cloning it.
   */
  readonly wholeBuffers?: boolean
  /** Bytes read and written so far, where the transport can count them (streams); else 0. */
  readonly bytesIn: number
  readonly bytesOut: number
}
