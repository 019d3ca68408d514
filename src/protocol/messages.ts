// The wire vocabulary of the handle protocol: tagged tuples, one shape comment each.
// PROTOCOL.md is the prose version of this file; keep them in step.

/** Protocol version; a peer that speaks another one is refused with ProtocolError. */
export const PROTOCOL_VERSION = 1

/** Features this implementation speaks; sent in the handshake for forward compatibility. */
export const FEATURES = ['pipeline', 'iter', 'registry', 'promise'] as const

/** A table id. 0 is the root; > 0 an export the owner allocated; < 0 a result id the peer chose. */
export type Id = number
/** A property path from a target: string or integer keys only (symbols do not cross). */
export type Path = (string | number)[]

/** Operations a peer may ask for. Every op has the same shape (below). */
export const OPS = ['get', 'call', 'new', 'set', 'del', 'has', 'keys', 'iter', 'next', 'fetch', 'browse', 'attach', 'ping', 'hold', 'obtain'] as const
export type Op = (typeof OPS)[number]

// Messages, each an array with its tag first. A transport message is a batch: an array of these.
//
// ["hello", version, features, options]          handshake, sent first by both sides
// [op, rid, target, path, arg, pull]             an operation; rid is the caller-chosen result id
//                                                (negative), target a table id (0 root, >0 export,
//                                                <0 an earlier rid); arg depends on the op:
//                                                call/new: encoded args array; set: [value] encoded;
//                                                next: how many items (0: close it); fetch: a
//                                                name; attach: [value, name]; ping: any value;
//                                                hold: a value to keep and return by reference;
//                                                pull 1 when the caller wants the result sent back
// ["pull", rid]                                  send back the result of rid when it settles
// ["ret", rid, value]                            rid fulfilled with the encoded value
// ["throw", rid, error]                          rid rejected with the encoded error
// ["settle", pid, ok, value]                     a promise exported by reference settled
// ["release", [id, count, id, count, ...]]       drop these references (counts are what was received)
// ["bye", reason]                                the sender is closing on purpose
export type OpMessage = [op: Op, rid: Id, target: Id, path: Path, arg: unknown, pull: 0 | 1]
export type HelloMessage = ['hello', version: number, features: readonly string[], options: HelloOptions]
export type PullMessage = ['pull', rid: Id]
export type RetMessage = ['ret', rid: Id, value: unknown]
export type ThrowMessage = ['throw', rid: Id, error: unknown]
export type SettleMessage = ['settle', pid: Id, ok: 0 | 1, value: unknown]
export type ReleaseMessage = ['release', pairs: number[]]
export type ByeMessage = ['bye', reason: string]
export type Message = OpMessage | HelloMessage | PullMessage | RetMessage | ThrowMessage | SettleMessage | ReleaseMessage | ByeMessage

/** What a side says about itself in the handshake. */
export interface HelloOptions {
  /** Whether this side serves a root object (else operations on its root are refused). */
  root: boolean
}
