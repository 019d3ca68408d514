// The handshake as a small state machine: Waiting → (Proving →) Ready. Each side sends HELLO at
// once; a HELLO that says it was sent before its sender heard ours is answered, so a channel that
// drops what is sent before the other end listens (BroadcastChannel) still connects. With a
// shared secret, each HELLO carries a nonce and each side then proves it knows the secret (PROOF);
// a side is Ready only once the peer's proof verified. Any mismatch fails both sides at once.
import { AuthenticationError } from '../errors.ts'
import { WireFault } from './fault.ts'
import { DENY, Deny, FEATURES, HELLO, PROOF, PROTOCOL_VERSION, BYE } from './messages.ts'
import {
  MAX_USER, NONCE_BYTES, PROOF_BYTES, decoyKey, isBytes, isSecret, keyOf, nonce, proof, proofMatches, type Secret,
  type SecretLookup,
} from './auth.ts'

export const enum Stage {
  /** Our HELLO is out; the peer's has not come. */
  Waiting,
  /** Both HELLOs are in and both sides have a secret: proofs are crossing. */
  Proving,
  /** The handshake is done (and the peer's proof verified, with a secret): operations may flow. */
  Ready,
}

/** What the handshake needs from its connection. */
export interface HandshakeHooks {
  /** Sends one handshake message now (nothing else leaves before Ready). */
  send(message: unknown[]): void
  /** The handshake is done. */
  ready(): void
  /** Authentication failed: tell the peer `tell`, then close with `error`. */
  refuse(error: AuthenticationError, tell: unknown[]): void
  /** Whether the connection is closed (an async secret lookup may end after it). */
  closed(): boolean
}

export interface HandshakeOptions {
  /** Whether this side serves a root object (or will, from a factory). */
  root: boolean
  /** The largest frame this side accepts once the handshake is done (told to the peer). */
  frame: number
  secret: Secret | SecretLookup | undefined
  user: string | undefined
}

const REFUSED: Record<number, string> = {
  [Deny.Proof]: 'the peer did not accept our proof (wrong secret or unknown user)',
  [Deny.NeedsSecret]: 'the peer requires a secret and this side has none',
  [Deny.NoSecret]: 'the peer has no secret, and this side offered one',
}

/** The smallest frame limit a side may set or claim. */
export const MIN_FRAME = 1024
/** Most features a HELLO may list. */
const MAX_FEATURES = 256

export class Handshake {
  stage = Stage.Waiting
  /** What the peer said it speaks (its HELLO's feature list). */
  peerFeatures: ReadonlySet<string> = new Set()
  /** Whether the peer serves a root object. */
  peerRoot = true
  /** The user name the peer authenticated as; set once its proof verified. */
  peerUser: string | undefined
  /** The largest frame the peer accepts (its HELLO's `frame`; a peer that does not say: 64 MiB). */
  peerFrame = 64 * 1024 * 1024
  #root: boolean
  #frame: number
  #hooks: HandshakeHooks
  #secret: Secret | SecretLookup | undefined
  #user: string | undefined
  #nonce: Buffer | undefined
  #peerNonce: Uint8Array | undefined
  #claimedUser: string | undefined
  /** The key once resolved (Proving); dropped at Ready. */
  #key: Buffer | undefined
  /** Why the key is a decoy (unknown user, failed lookup): the proof then never verifies. */
  #decoy: { cause?: unknown } | undefined
  /** The peer's proof, when it came before our key was resolved. */
  #peerProof: Uint8Array | undefined

  constructor(options: HandshakeOptions, hooks: HandshakeHooks) {
    this.#root = options.root
    this.#frame = options.frame
    this.#secret = options.secret
    this.#user = options.user
    this.#hooks = hooks
    if (options.secret !== undefined) this.#nonce = nonce()
  }

  /** Our HELLO: [HELLO, version, features, { root, heard, frame, nonce?, user? }] */
  hello(heard = false): unknown[] {
    const options: Record<string, unknown> = { root: this.#root, heard, frame: this.#frame }
    if (this.#nonce !== undefined) options.nonce = this.#nonce
    if (this.#user !== undefined && this.#nonce !== undefined) options.user = this.#user
    return [HELLO, PROTOCOL_VERSION, FEATURES, options]
  }

  /**
   * The peer's message at d[i] while not yet Ready, or a HELLO after. Sends what answers it through
   * the hooks. Throws WireFault for anything else; never stringifies or coerces a wire value.
   */
  receive(d: readonly unknown[], i: number): void {
    const tag = d[i]
    if (tag === HELLO) return this.#hello(d, i)
    if (this.stage !== Stage.Ready && tag === DENY) {
      const why = d[i + 1]
      const text = (typeof why === 'number' && REFUSED[why]) || 'the peer refused authentication'
      return this.#hooks.refuse(new AuthenticationError(`authentication failed: ${text}`), [])
    }
    if (this.stage === Stage.Proving && tag === PROOF) return this.#proof(d[i + 1])
    if (this.stage === Stage.Ready) throw new WireFault('unexpected message')
    throw new WireFault(this.stage === Stage.Waiting ? 'expected the handshake (HELLO) first' : 'expected the handshake (PROOF) first')
  }

  #hello(d: readonly unknown[], i: number): void {
    const options = d[i + 3]
    const o = typeof options === 'object' && options !== null ? (options as Record<string, unknown>) : undefined
    const heard = o?.heard === true
    if (this.stage !== Stage.Waiting) {
      // the answer to a HELLO of ours that crossed the peer's: nothing more to do
      if (heard) return
      throw new WireFault('a second handshake')
    }
    const version = d[i + 1]
    if (version !== PROTOCOL_VERSION) {
      const said = typeof version === 'number' ? `version ${version}` : `a version of type ${typeof version}`
      throw new WireFault(`protocol version mismatch: the peer speaks ${said}, this side ${PROTOCOL_VERSION}`)
    }
    const features = d[i + 2]
    // a sparse array of length 2^32 - 1 costs a few bytes on the wire: look at its length first
    if (Array.isArray(features) && features.length > MAX_FEATURES) throw new WireFault(`a handshake lists more than ${MAX_FEATURES} features`)
    this.peerFeatures = new Set(Array.isArray(features) ? features.filter((f): f is string => typeof f === 'string') : [])
    if (o?.root === false) this.peerRoot = false
    // below 1 KiB nothing useful fits; a peer that claims less only hurts itself, but not at all
    if (typeof o?.frame === 'number' && Number.isInteger(o.frame)) this.peerFrame = Math.max(o.frame, MIN_FRAME)
    const peerNonce = o?.nonce
    const user = o?.user
    if (peerNonce !== undefined && !isBytes(peerNonce, NONCE_BYTES)) throw new WireFault(`a handshake nonce must be ${NONCE_BYTES} bytes`)
    if (user !== undefined && (typeof user !== 'string' || user.length === 0 || user.length > MAX_USER)) {
      throw new WireFault(`a handshake user name must be a string of 1 to ${MAX_USER} characters`)
    }
    // the answer goes first: a peer whose first HELLO we missed needs it before our proof
    if (!heard) this.#hooks.send(this.hello(true))
    if (this.#nonce === undefined) {
      if (peerNonce === undefined) return this.#ready()
      return this.#fail('authentication failed: the peer requires a secret and this side has none', Deny.NoSecret)
    }
    if (peerNonce === undefined) {
      if (!this.peerFeatures.has('secret')) {
        // an older peer cannot read DENY; a goodbye closes it at once
        return this.#fail("authentication failed: the peer does not speak 'secret' (an older farside?) and this side requires a secret", undefined)
      }
      return this.#fail('authentication failed: the peer has no secret, and this side requires one', Deny.NeedsSecret)
    }
    this.stage = Stage.Proving
    this.#peerNonce = peerNonce
    this.#claimedUser = user as string | undefined
    // a peer that echoes our nonce could reflect our own proof back: refuse it as a wrong secret
    if (Buffer.compare(this.#nonce, peerNonce) === 0) this.#decoy = {}
    this.#resolve()
  }

  /** Finds the key for this peer (perhaps asynchronously), then sends our proof. */
  #resolve(): void {
    const secret = this.#secret
    if (typeof secret !== 'function') return this.#keyed(keyOf(secret!))
    let found: ReturnType<SecretLookup>
    try {
      found = secret(this.#claimedUser)
    } catch (err) {
      return this.#keyed(undefined, err)
    }
    if (typeof (found as { then?: unknown } | undefined)?.then === 'function') {
      Promise.resolve(found).then(
        (v) => this.#later(v),
        (err) => this.#later(undefined, err),
      )
    } else this.#keyed(found)
  }

  /** #keyed after an async lookup: a throw here has no receive loop to catch it. */
  #later(secret: unknown, cause?: unknown): void {
    try {
      this.#keyed(secret, cause)
    } catch (err) {
      if (!this.#hooks.closed()) this.#refuse(new AuthenticationError('authentication failed', { cause: err }), [DENY, Deny.Proof])
    }
  }

  #keyed(secret: unknown, cause?: unknown): void {
    if (this.#hooks.closed() || this.stage !== Stage.Proving) return
    if (secret === undefined || !isSecret(secret)) {
      // unknown user, failed or wrong lookup: go on with a decoy key, so the peer sees what a
      // wrong secret looks like, no sooner and no differently
      const reason = cause ?? (secret === undefined ? undefined : new TypeError('the secret lookup returned something that is not a secret'))
      this.#decoy ??= reason === undefined ? {} : { cause: reason }
      this.#key = decoyKey()
    } else this.#key = keyOf(secret)
    // [PROOF, mac]
    this.#hooks.send([PROOF, proof(this.#key, this.#peerNonce!, this.#nonce!, this.#user, this.#claimedUser)])
    if (this.#peerProof !== undefined) this.#verify(this.#peerProof)
  }

  #proof(mac: unknown): void {
    if (!isBytes(mac, PROOF_BYTES)) throw new WireFault(`a handshake proof must be ${PROOF_BYTES} bytes`)
    if (this.#peerProof !== undefined) throw new WireFault('a second proof')
    this.#peerProof = mac
    if (this.#key !== undefined) this.#verify(mac)
  }

  #verify(mac: Uint8Array): void {
    const expected = proof(this.#key!, this.#nonce!, this.#peerNonce!, this.#claimedUser, this.#user)
    const ok = proofMatches(expected, mac) && this.#decoy === undefined
    if (!ok) {
      const error = new AuthenticationError("authentication failed: the peer's proof did not verify (wrong secret or unknown user)", this.#decoy?.cause !== undefined ? { cause: this.#decoy.cause } : undefined)
      return this.#refuse(error, [DENY, Deny.Proof])
    }
    this.peerUser = this.#claimedUser
    this.#ready()
  }

  #ready(): void {
    this.stage = Stage.Ready
    this.#key = undefined
    this.#secret = undefined
    this.#hooks.ready()
  }

  #fail(message: string, why: Deny | undefined): void {
    // [DENY, why] to a peer that reads it; [BYE, reason] to one that does not
    this.#refuse(new AuthenticationError(message), why === undefined ? [BYE, 'auth'] : [DENY, why])
  }

  #refuse(error: AuthenticationError, tell: unknown[]): void {
    this.#key = undefined
    this.#secret = undefined
    this.#hooks.refuse(error, tell)
  }
}
