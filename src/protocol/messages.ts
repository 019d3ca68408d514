// The wire vocabulary of the handle protocol: tagged tuples, one shape comment each.
// PROTOCOL.md is the prose version of this file; keep them in step.

/** Protocol version; a peer that speaks another one is refused with ProtocolError. */
export const PROTOCOL_VERSION = 1

/** Features this implementation speaks; sent in the handshake for forward compatibility. */
export const FEATURES = ['pipeline', 'iter', 'registry', 'promise', 'eorder', 'cancel', 'heartbeat', 'secret', 'stream', 'meta'] as const

/** A table id. 0 is the root; > 0 an export the owner allocated; < 0 a result id the peer chose. */
export type Id = number
/** A property path from a target: string or integer keys only (symbols do not cross). */
export type Path = (string | number)[]

/** Operations a peer may ask for; on the wire each is its index here (get = 0, call = 1, ...). */
export const OPS = ['get', 'call', 'new', 'set', 'del', 'has', 'keys', 'iter', 'next', 'fetch', 'browse', 'attach', 'ping', 'hold', 'obtain'] as const
export type Op = (typeof OPS)[number]
/** Op name → wire code. */
export const OP_CODE: Readonly<Record<Op, number>> = Object.fromEntries(OPS.map((op, i) => [op, i])) as Record<Op, number>

// The other message tags. Tags are small integers: structured clone and v8.serialize pay for
// every string, and a batch of a thousand calls carries a thousand tags.
export const HELLO = 16
export const PULL = 17
export const RET = 18
export const THROW = 19
export const SETTLE = 20
export const RELEASE = 21
export const BYE = 22
export const CANCEL = 23
export const BEAT = 24
export const PROOF = 25
export const DENY = 26
// streams (protocol/streams.ts): a stream id on the wire is > 0 for a stream the message's
// sender exported, < 0 (negated) for one the receiver exported
export const SDATA = 27
export const SMORE = 28
export const SEND = 29
export const SDONE = 30
export const SABORT = 31
/** Far from the others: tags in between are left for new messages. */
export const META = 40

/** DENY's `why`: what the sender refused. Unknown codes read as a refusal without a reason. */
export const enum Deny {
  /** The receiver's proof did not verify (wrong secret, unknown user, a reflected nonce). */
  Proof = 0,
  /** The sender requires a secret; the receiver offered none (its HELLO had no nonce). */
  NeedsSecret = 1,
  /** The sender has no secret; the receiver offered one. */
  NoSecret = 2,
}

// A transport message is a batch: one flat array of messages, each its tag followed by its fields.
// Flat, because structured clone and v8.serialize pay per nested array.
//
// HELLO, version, features, options          handshake, sent first by both sides; options
//                                            { root, heard, frame, nonce?, user? } (HelloOptions)
// op, rid, target, path, pull, argc, args... an operation (op: its code in OPS); rid the caller-
//                                            chosen result id (negative); target a table id (0
//                                            root, >0 export, <0 an earlier rid); path the
//                                            property names from the target (one name crosses as
//                                            the name alone, none as []); pull 1 when the caller
//                                            wants the result sent back; argc >= 0: that many
//                                            plain arguments follow inline; argc = -1: one field
//                                            follows, the encoded argument list (it holds markers).
//                                            Arguments: call/new: the call's; set: [value];
//                                            next: [count] (0 closes the iterator); fetch: [name];
//                                            attach: [value, name]; ping: [x]; hold: [value]
// PULL, rid                                  send back the result of rid when it settles
// RET, rid, value                            rid fulfilled with the encoded value
// THROW, rid, error                          rid rejected with the encoded error
// SETTLE, pid, ok, value                     a promise exported by reference settled
// RELEASE, id, count                         drop `count` references to id (what was received)
// BYE, reason                                the sender is closing: 'close' on purpose; any
//                                            other string says why it gave up (a fault; may
//                                            come before the handshake)
// CANCEL, rid                                the caller gave up on rid (timeout, AbortSignal): the
//                                            callee aborts the call's signal, sends no answer and
//                                            drops the result (CANCEL stands for its release)
// BEAT, answer                               heartbeat: 0 asks the peer to answer, 1 answers
// PROOF, mac                                 the shared secret: the sender knows it; mac (32 bytes)
//                                            is HMAC-SHA256(secret, label || receiver's nonce ||
//                                            sender's nonce || sender's user || receiver's user)
// DENY, why                                  authentication failed (why: a Deny code); the sender
//                                            closes after it
// SDATA, sid, chunk                          one chunk of the stream's data (object mode: the
//                                            encoded value); only while the sender holds credit
// SMORE, sid, credit                         the receiver of sid's data may take `credit` more
//                                            units (bytes; a chunk that is no bytes or string
//                                            counts 1 KiB); credit is a whole number > 0
// SEND, sid                                  the sender's data on sid has ended (after its data)
// SDONE, sid                                 the data written to sid has all been written (the
//                                            owner's writable finished): the writer's end() is done
// SABORT, sid, error                         the stream stops both ways: error (encoded), or null
//                                            for a cancel (break, destroy() without an error)
// META, rid, metadata                        tracing metadata ({ name: string value }, bounded)
//                                            for the operation rid that follows it; sent only
//                                            when a farside:call subscriber added some

/**
 * Bounds on counts a peer states (a sparse array of length 2^32 - 1 costs a few bytes on the
 * wire, so no length from the wire is walked before it is checked against one of these).
 */
/** Most plain arguments one operation carries inline; a caller with more encodes them (argc -1). */
export const MAX_INLINE_ARGS = 65_536
/** Most arguments of one call, however they cross. */
export const MAX_ARGS = 1_048_576
/** Most names in one operation's property path. */
export const MAX_PATH = 1024
/** Most items one `next` may ask for. */
export const MAX_NEXT = 100_000

/** How many fields follow each fixed-size tag (operations: see messageLength). */
const FIELDS: readonly number[] = (() => {
  const f: number[] = []
  f[HELLO] = 3
  f[PULL] = 1
  f[RET] = 2
  f[THROW] = 2
  f[SETTLE] = 3
  f[RELEASE] = 2
  f[BYE] = 1
  f[CANCEL] = 1
  f[BEAT] = 1
  f[PROOF] = 1
  f[DENY] = 1
  f[SDATA] = 2
  f[SMORE] = 2
  f[SEND] = 1
  f[SDONE] = 1
  f[SABORT] = 2
  f[META] = 2
  return f
})()

/**
 * The length (tag included) of the message at d[i], or -1 if the tag is unknown or the message
 * runs past the end of the batch.
 */
export function messageLength(d: readonly unknown[], i: number): number {
  const tag = d[i]
  let n: number
  if (typeof tag !== 'number') return -1
  if (tag >= 0 && tag < OPS.length && Number.isInteger(tag)) {
    const argc = d[i + 5]
    if (typeof argc !== 'number' || !Number.isInteger(argc) || argc < -1 || argc > MAX_INLINE_ARGS) return -1
    n = 6 + (argc === -1 ? 1 : argc)
  } else {
    const fields = FIELDS[tag]
    if (fields === undefined) return -1
    n = 1 + fields
  }
  return i + n <= d.length ? n : -1
}

/** What a side says about itself in the handshake. */
export interface HelloOptions {
  /** Whether this side serves a root object (else operations on its root are refused). */
  root: boolean
  /** Whether this side had the peer's HELLO before it sent this one (else the peer answers). */
  heard: boolean
  /** The largest frame this side accepts, in bytes (its limits.maxFrameBytes). */
  frame: number
  /** With a secret: this side's challenge, 32 random bytes. Absent: this side has no secret. */
  nonce?: Uint8Array
  /** The user name this side authenticates as (not secret; the peer picks its secret by it). */
  user?: string
}
