// The receive loop: a frame is a batch of messages; each message's tag picks its receiver from a
// table. Any throw while reading or dispatching a peer's message is a protocol fault for this
// connection alone, never an exception that escapes into the transport.
import { WireFault } from './fault.ts'
import { BYE, messageLength } from './messages.ts'

/** Handles the message whose tag is at d[i]; its fields follow. */
export type Receiver = (d: unknown[], i: number) => void

export interface ReceiveParts {
  /** Receivers by tag, once the handshake is done. */
  table: readonly (Receiver | undefined)[]
  /** The receiver of everything before the handshake is done (BYE excepted). */
  handshake: Receiver
  ready(): boolean
  closed(): boolean
  /** A frame arrived (for the heartbeat). */
  seen(): void
  /** Closes the connection for a protocol fault. */
  fault(err: WireFault): void
}

/** The function a transport's messages go to. */
export function receiver(p: ReceiveParts): (data: unknown) => void {
  return (data) => {
    if (p.closed()) return
    if (!Array.isArray(data)) return p.fault(new WireFault('a frame must be a batch (an array)'))
    p.seen()
    const n = data.length
    for (let i = 0; i < n; ) {
      if (p.closed()) return
      const length = messageLength(data, i)
      if (length < 0) return p.fault(new WireFault(`malformed message at index ${i} of a batch`))
      try {
        if (!p.ready() && data[i] !== BYE) p.handshake(data, i)
        else {
          const receive = p.table[data[i] as number]
          if (receive === undefined) throw new WireFault('unexpected message')
          receive(data, i)
        }
      } catch (err) {
        return p.fault(err instanceof WireFault ? err : new WireFault('a message could not be handled', { cause: err }))
      }
      i += length
    }
  }
}
