// A broken protocol rule seen on the wire. It closes the connection; a ProtocolError that is
// merely a value (a peer's result, a forwarded error) does not.
import { ProtocolError } from '../errors.ts'

/** Thrown by the protocol layer for a wire fault; users see it as a ProtocolError. */
export class WireFault extends ProtocolError {
  override get name(): string {
    return 'ProtocolError'
  }
}
