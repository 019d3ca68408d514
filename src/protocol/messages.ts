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

// A transport message is a batch: one flat array of messages, each its tag followed by a fixed
// number of fields (ARITY). Flat, because structured clone and v8.serialize pay per nested array.
//
// hello, version, features, options            handshake, sent first by both sides
// op, rid, target, path, arg, pull             an operation (op is one of OPS); rid is the
//                                              caller-chosen result id (negative), target a table
//                                              id (0 root, >0 export, <0 an earlier rid); path
//                                              the property names from the target (one name
//                                              crosses as the name alone); arg depends on the op:
//                                              call/new: encoded args array; set: [value] encoded;
//                                              next: how many items (0: close it); fetch: a
//                                              name; attach: [value, name]; ping: any value;
//                                              hold: a value to keep and return by reference;
//                                              pull 1 when the caller wants the result sent back
// pull, rid                                    send back the result of rid when it settles
// ret, rid, value                              rid fulfilled with the encoded value
// throw, rid, error                            rid rejected with the encoded error
// settle, pid, ok, value                       a promise exported by reference settled
// release, [id, count, id, count, ...]         drop these references (counts are what was received)
// bye, reason                                  the sender is closing on purpose

/** How many fields follow each tag. */
export const ARITY: Readonly<Record<string, number>> = {
  hello: 3, pull: 1, ret: 2, throw: 2, settle: 3, release: 1, bye: 1,
  ...Object.fromEntries(OPS.map((op) => [op, 5])),
}

/** What a side says about itself in the handshake. */
export interface HelloOptions {
  /** Whether this side serves a root object (else operations on its root are refused). */
  root: boolean
}
