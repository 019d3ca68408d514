// The shared secret's crypto: nonces, proofs and their checks, and the secret option's form.
// handshake.ts decides when they are used; nothing here touches the wire, and the secret itself
// never leaves this file's callers except as an HMAC.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

/** A shared secret: a string (its UTF-8 bytes) or bytes. */
export type Secret = string | Uint8Array

/**
 * The secret for a peer, by the user name it sent (undefined if it sent none). Returning
 * undefined (or throwing) refuses the peer exactly as a wrong secret would.
 */
export type SecretLookup = (peerUser: string | undefined) => Secret | undefined | Promise<Secret | undefined>

/** Bytes in a nonce and in a proof (HMAC-SHA256). */
export const NONCE_BYTES = 32
export const PROOF_BYTES = 32
/** Longest user name accepted, in characters (locally and from the wire). */
export const MAX_USER = 256

// Domain separation: these HMACs are proofs of this protocol's handshake and nothing else.
const LABEL = Buffer.from('farside/1 hmac-sha256 handshake proof\0', 'utf8')

/** A fresh nonce for one handshake. */
export function nonce(): Buffer {
  return randomBytes(NONCE_BYTES)
}

/** The key bytes of a valid secret, copied (a later change to the caller's buffer changes nothing). */
export function keyOf(secret: Secret): Buffer {
  return typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret)
}

/** A random key for a peer whose secret is unknown: the handshake goes on and fails as a wrong secret. */
export function decoyKey(): Buffer {
  return randomBytes(32)
}

/** Whether `v` is a usable secret: a non-empty string or non-empty Uint8Array (Buffer). */
export function isSecret(v: unknown): v is Secret {
  if (typeof v === 'string') return v.length > 0
  return v instanceof Uint8Array && v.byteLength > 0
}

/** Throws TypeError unless `v` is undefined, a usable secret or a lookup function. */
export function checkSecret(name: string, v: unknown): void {
  if (v === undefined || typeof v === 'function' || isSecret(v)) return
  const got = v === null ? 'null' : typeof v === 'string' ? 'an empty string' : v instanceof Uint8Array ? 'an empty buffer' : `a value of type ${typeof v}`
  throw new TypeError(`options.${name} must be a non-empty string, Buffer or Uint8Array (got ${got})`)
}

/** Throws TypeError unless `v` is undefined or a user name (1 to MAX_USER characters). */
export function checkUser(name: string, v: unknown): void {
  if (v === undefined) return
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_USER) throw new TypeError(`options.${name} must be a non-empty string of at most ${MAX_USER} characters`)
}

/**
 * The proof that the prover knows `key`, for one verifier: HMAC-SHA256(key, LABEL || verifier's
 * nonce || prover's nonce || prover's user || verifier's user). The order of the nonces is the
 * direction: a proof reflected back to its maker does not verify (the handshake refuses a peer
 * nonce equal to its own, the one case where the two orders agree).
 */
export function proof(key: Buffer, verifierNonce: Uint8Array, proverNonce: Uint8Array, proverUser: string | undefined, verifierUser: string | undefined): Buffer {
  return createHmac('sha256', key)
    .update(LABEL)
    .update(verifierNonce)
    .update(proverNonce)
    .update(lengthPrefixed(proverUser))
    .update(lengthPrefixed(verifierUser))
    .digest()
}

/** Compares a proof in constant time. `got` must be PROOF_BYTES long (checked by the caller). */
export function proofMatches(expected: Buffer, got: Uint8Array): boolean {
  return got.byteLength === expected.byteLength && timingSafeEqual(expected, got)
}

/** Whether `v` is exactly `n` bytes (a Uint8Array, as a nonce or a proof crosses). */
export function isBytes(v: unknown, n: number): v is Uint8Array {
  return v instanceof Uint8Array && v.byteLength === n
}

function lengthPrefixed(user: string | undefined): Buffer {
  const bytes = Buffer.from(user ?? '', 'utf8')
  const out = Buffer.allocUnsafe(2 + bytes.length)
  out.writeUInt16BE(bytes.length, 0)
  bytes.copy(out, 2)
  return out
}
