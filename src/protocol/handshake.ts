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

/** The smallest frame limit a side may set or claim. */
export const MIN_FRAME = 1024

export class Handshake {
  stage = Stage.Waiting
  /** What the peer said it speaks (its HELLO's feature list). */
  peerFeatures: ReadonlySet<string> = new Set()
  /** Whether the peer serves a root object. */
  peerRoot = true
  /** The largest frame the peer accepts (its HELLO's `frame`; a peer that does not say: 64 MiB). */
  peerFrame = 64 * 1024 * 1024
  #root: boolean
  #frame: number

  constructor(servesRoot: boolean, maxFrameBytes: number) {
    this.#root = servesRoot
    this.#frame = maxFrameBytes
  }

  /** Our HELLO: [HELLO, version, features, { root, heard, frame }] */
  hello(heard = false): unknown[] {
    return [HELLO, PROTOCOL_VERSION, FEATURES, { root: this.#root, heard, frame: this.#frame }]
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
    if (typeof options === 'object' && options !== null) {
      const { root, frame } = options as { root?: unknown; frame?: unknown }
      if (root === false) this.peerRoot = false
      // below 1 KiB nothing useful fits; a peer that claims it only hurts itself, but not at all
      if (typeof frame === 'number' && Number.isInteger(frame)) this.peerFrame = Math.max(frame, MIN_FRAME)
    }
    this.stage = Stage.Ready
    return heard ? undefined : this.hello(true)
  }
}
