// The handshake as a small state machine. Each side sends HELLO at once; a HELLO that says it was
// sent before its sender heard ours is answered, so a channel that drops what is sent before the
// other end listens (BroadcastChannel) still connects. Later states (the shared secret's
// challenge and response) slot in between Waiting and Ready.
import { WireFault } from './fault.ts'
import { FEATURES, HELLO, PROTOCOL_VERSION } from './messages.ts'

export const enum Stage {
  /** Our HELLO is out; the peer's has not come. */
  Waiting,
  /** Both HELLOs are in: operations may flow. */
  Ready,
}

export class Handshake {
  stage = Stage.Waiting
  /** What the peer said it speaks (its HELLO's feature list). */
  peerFeatures: ReadonlySet<string> = new Set()
  /** Whether the peer serves a root object. */
  peerRoot = true
  #root: boolean

  constructor(servesRoot: boolean) {
    this.#root = servesRoot
  }

  /** Our HELLO: [HELLO, version, features, { root, heard }] */
  hello(heard = false): unknown[] {
    return [HELLO, PROTOCOL_VERSION, FEATURES, { root: this.#root, heard }]
  }

  /**
   * The peer's message at d[i] while not yet Ready, or a HELLO after. Returns our answer to send
   * (a HELLO), or undefined. Throws WireFault for anything else; never stringifies a wire value.
   */
  receive(d: readonly unknown[], i: number): unknown[] | undefined {
    if (d[i] !== HELLO) throw new WireFault(this.stage === Stage.Ready ? 'unexpected message' : 'expected the handshake (HELLO) first')
    const options = d[i + 3]
    const heard = typeof options === 'object' && options !== null && (options as { heard?: unknown }).heard === true
    if (this.stage === Stage.Ready) {
      // the answer to a HELLO of ours that crossed the peer's: nothing more to do
      if (heard) return undefined
      throw new WireFault('a second handshake')
    }
    const version = d[i + 1]
    if (version !== PROTOCOL_VERSION) {
      const said = typeof version === 'number' ? `version ${version}` : `a version of type ${typeof version}`
      throw new WireFault(`protocol version mismatch: the peer speaks ${said}, this side ${PROTOCOL_VERSION}`)
    }
    const features = d[i + 2]
    this.peerFeatures = new Set(Array.isArray(features) ? features.filter((f): f is string => typeof f === 'string') : [])
    if (typeof options === 'object' && options !== null && (options as { root?: unknown }).root === false) this.peerRoot = false
    this.stage = Stage.Ready
    return heard ? undefined : this.hello(true)
  }
}
