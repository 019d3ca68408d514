// The fuzz engine: turns a seed (and a corpus of real frames) into attacks, each the bytes one
// hostile TCP client writes on one connection. Pure: no sockets here (harness.ts sends them).
// Generation is fast-check's, so a (seed, index) pair always rebuilds the same attack.
import fc from 'fast-check'
import { serialize } from 'node:v8'
import { BEAT, CANCEL, HELLO, OPS, OP_CODE, PULL, RELEASE, RET, SABORT, SDATA, SDONE, SEND, SETTLE, SMORE, THROW, messageLength, PROTOCOL_VERSION } from '../../src/protocol/messages.ts'

/** One hostile client's connection: the chunks it writes, in order, and what it is. */
export interface Attack {
  /** Which generator made it: bytes, value, mutant (of a real batch), session (many frames). */
  kind: 'bytes' | 'value' | 'mutant' | 'session'
  /** A short description for reports (what was mutated, where). */
  note: string
  /** What to write, one write per chunk. */
  chunks: Buffer[]
  /** Frames (or raw chunks) it counts against the budget. */
  frames: number
  /** Keep the connection open after writing (a long-lived client) until the server closes it. */
  linger: boolean
}

/** Real batches a well-behaved client sent (and received), as recorded by harness.ts. */
export interface Corpus {
  /** The client's HELLO batch. */
  hello: unknown[]
  /** Every client→server batch of one session after its HELLO, in order. */
  session: unknown[][]
  /** Server→client batches (answers, the server's own calls): also fed back as input. */
  answers: unknown[][]
}

/** A length-prefixed node:v8 frame, as farside writes them. */
export function frame(message: unknown): Buffer {
  const body = serialize(message)
  return withHeader(body, body.length)
}

function withHeader(body: Buffer, length: number): Buffer {
  const head = Buffer.alloc(4)
  head.writeUInt32BE(length >>> 0)
  return Buffer.concat([head, body])
}

/** The bytes of a v8-serialized array nested `n` deep, made by hand (v8.serialize itself overflows past ~10k). */
export function deepArrayBytes(n: number): Buffer {
  const open = Buffer.alloc(n * 2)
  for (let i = 0; i < n; i++) open.set([0x41, 1], 2 * i) // 'A' dense array of length 1
  const close = Buffer.alloc(n * 3)
  for (let i = 0; i < n; i++) close.set([0x24, 0, 1], 3 * i) // '$' 0 properties, length 1
  return Buffer.concat([Buffer.from([0xff, 0x0f]), open, Buffer.from([0x41, 0, 0x24, 0, 0]), close])
}

// ---- hostile values ----

/** An array nested n deep: [[[...[]...]]]. */
export function nested(n: number, leaf: unknown = []): unknown {
  let v: unknown = leaf
  for (let i = 0; i < n; i++) v = [v]
  return v
}

function cyclicArray(): unknown[] {
  const a: unknown[] = [1]
  a.push(a)
  return a
}

function cyclicObject(): Record<string, unknown> {
  const o: Record<string, unknown> = { a: 1 }
  o.self = o
  o.list = [o]
  return o
}

function sparse(length: number): unknown[] {
  const a: unknown[] = []
  a.length = length
  a[0] = 1
  if (length > 10) a[length - 1] = 2
  return a
}

/** Objects whose members break `${x}`, String(x), x + '', JSON or promise adoption. */
const trapObjects = (): unknown[] => [
  { toString: 0 },
  { toString: 0, valueOf: 0 },
  { valueOf: 0 },
  { toString: {}, valueOf: {} },
  { [Symbol.toPrimitive as unknown as string]: 1 },
  { then: 1 },
  { then: { '\u0000': 'r', i: 1 } },
  { then: { '\u0000': 'b', i: 0 } },
  { toJSON: 0 },
  { length: -1 },
  { length: 2 ** 32 },
  { __proto__: null, toString: 0 } as unknown,
  Object.assign(Object.create(null), { toString: 0 }),
  { constructor: 0, prototype: 0, __proto__x: 0 },
]

const oddStrings = ['', '\u0000', '\ud800', '\udfff', '\udfff\ud800', '\u202e', '\ufeff', '𝕏'.repeat(3), 'constructor', '__proto__', 'then', 'toString', 'prototype', '_secret', 'x'.repeat(70_000)]

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 31, -(2 ** 31) - 1, 0.5, -1, 1e308),
  fc.double(),
  fc.bigInt(),
  fc.constantFrom(0n, -1n, 10n, 2n ** 64n, -(2n ** 200n)),
  fc.boolean(),
  fc.constantFrom(null, undefined),
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom(...oddStrings),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 16 }),
  fc.float64Array({ maxLength: 4 }),
  fc.bigInt64Array({ maxLength: 4 }),
  fc.constant(null).map(() => new DataView(new ArrayBuffer(3))),
  fc.constant(null).map(() => /x(?<n>y)/giu),
  fc.constant(null).map(() => new ArrayBuffer(8)),
)

/** Wire markers ({"\0": kind, ...}) with hostile fields, as the codec would meet them. */
const marker: fc.Arbitrary<unknown> = fc
  .record({
    k: fc.constantFrom('v', 'r', 'b', 'h', 'p', 'e', 'o', 'zz', ''),
    i: fc.oneof(fc.integer({ min: -5, max: 5 }), leaf),
    v: leaf,
    c: fc.oneof(fc.constantFrom('Error', 'TypeError', 'ProtocolError', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'AggregateError'), leaf),
    n: leaf,
    m: leaf,
    x: fc.oneof(leaf, fc.constant(null).map(() => trapObjects()[0])),
  })
  .map(({ k, i, v, c, n, m, x }) => (k === 'e' ? { '\u0000': k, c, n, m, x, p: x } : k === 'v' || k === 'o' ? { '\u0000': k, v } : { '\u0000': k, i }))

const special: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null).map(cyclicArray),
  fc.constant(null).map(cyclicObject),
  fc.integer({ min: 1000, max: 4000 }).map((n) => nested(n)),
  fc.constantFrom(10, 1000, 2 ** 32 - 1).map(sparse),
  fc.nat({ max: trapObjects().length - 1 }).map((i) => trapObjects()[i]),
  marker,
)

/** A node:v8-serializable value built to hurt: mixed containers of leaves, traps and markers. */
export const hostileValue: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    special,
    fc.array(tie('v'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string(), fc.constantFrom(...oddStrings.slice(0, -1), '\u0000')), tie('v'), { maxKeys: 3 }),
    fc.array(fc.tuple(tie('v'), tie('v')), { maxLength: 2 }).map((e) => new Map(e)),
    fc.array(tie('v'), { maxLength: 3 }).map((e) => new Set(e)),
  ),
})).v

/** fast-check's own any-value generator, with every kind v8 can carry switched on. */
const anything = fc.anything({
  withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true,
  withSparseArray: true, withNullPrototype: true, withBoxedValues: true, withObjectString: true, maxDepth: 3,
})

// ---- (a) random bytes ----

const bytesAttack: fc.Arbitrary<Attack> = fc.oneof(
  // noise
  fc.uint8Array({ minLength: 1, maxLength: 256 }).map((b) => raw('noise', [Buffer.from(b)])),
  // a plausible header and a random body of that length (or shorter: a frame never finished)
  fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.integer({ min: -4, max: 4 }), fc.boolean()).map(([b, lie, magic]) => {
    const body = Buffer.from(magic ? [0xff, 0x0f, ...b] : b)
    return raw(`header ${body.length}${lie >= 0 ? '+' : ''}${lie} body`, [withHeader(body, Math.max(0, body.length + lie))])
  }),
  // headers at and around the limits
  fc.constantFrom(0, 1, 2, 3, 64 * 1024 * 1024, 64 * 1024 * 1024 + 1, 2 ** 31, 2 ** 32 - 1).map((n) => {
    const h = Buffer.alloc(4)
    h.writeUInt32BE(n)
    return raw(`bare header ${n}`, [h, Buffer.from([0xff, 0x0f])])
  }),
  // a v8 body that nests deeper than the serializer itself would write
  fc.integer({ min: 2000, max: 30_000 }).map((n) => raw(`hand-made ${n}-deep array frame`, [withHeader(deepArrayBytes(n), deepArrayBytes(n).length)])),
)

function raw(note: string, chunks: Buffer[]): Attack {
  return { kind: 'bytes', note, chunks, frames: chunks.length, linger: false }
}

// ---- (b) random values, framed ----

function valueAttack(corpus: Corpus): fc.Arbitrary<Attack> {
  return fc
    .tuple(fc.oneof(hostileValue, anything), fc.constantFrom('alone', 'in-batch', 'after-hello', 'hello-field'), fc.nat({ max: 2 }))
    .map(([v, where, field]) => {
      let msgs: unknown[]
      if (where === 'alone') msgs = [v]
      else if (where === 'in-batch') msgs = [[v]]
      else if (where === 'after-hello') msgs = [corpus.hello, [v], [v, v]]
      else {
        const h = [...corpus.hello]
        h[1 + field] = v
        msgs = [h]
      }
      return framed('value', `${where}${where === 'hello-field' ? ` #${1 + field}` : ''}: ${describe(v)}`, msgs)
    })
}

// ---- (c) mutations of real batches ----

/** Messages of a batch, split with the protocol's own length rule (malformed tails kept whole). */
export function split(batch: unknown[]): unknown[][] {
  const out: unknown[][] = []
  for (let i = 0; i < batch.length; ) {
    const n = messageLength(batch, i)
    if (n <= 0) {
      out.push(batch.slice(i))
      break
    }
    out.push(batch.slice(i, i + n))
    i += n
  }
  return out
}

/** Messages built from the vocabulary, for shapes a short session does not record. */
function synthetic(): unknown[][] {
  return [
    [PULL, -1], [RELEASE, 1, 1], [RELEASE, -1, 1], [CANCEL, -1], [BEAT, 0], [BEAT, 1],
    [RET, -1, 1], [THROW, -1, { '\u0000': 'e', c: 'Error', n: 'Error', m: 'x' }], [SETTLE, 1, 1, 2],
    [HELLO, PROTOCOL_VERSION, [], { root: false, heard: true }],
    ...OPS.map((_, op) => [op, -50 - op, 0, [], 1, 0]),
    // streams: a producer of the server's (its id 1 on the wire as -1), a consumer of a stream of
    // the fuzzer's (id 1), and each stream message about both
    [OP_CODE.call, -70, 0, 'bytes', 1, 1, 8],
    [OP_CODE.call, -71, 0, 'consume', 1, -1, { '\u0000': 'v', v: [{ '\u0000': 's', i: 1, k: 'r', o: {} }] }],
    [OP_CODE.call, -72, 0, 'consume', 1, -1, { '\u0000': 'v', v: [{ '\u0000': 's', i: 2, k: 'R', o: { ro: true } }] }],
    [OP_CODE.call, -73, 0, 'echo', 1, -1, { '\u0000': 'v', v: [{ '\u0000': 's', i: 3, k: 'd', o: { rh: 4, wh: 4 }, c: 4096 }] }],
    [SMORE, -1, 65536], [SMORE, -1, 1], [SDATA, 1, new Uint8Array(1024)], [SDATA, 2, { a: 1 }], [SDATA, 1, 'text'],
    [SEND, 1], [SEND, 3], [SDONE, -3], [SABORT, 1, null], [SABORT, -1, { '\u0000': 'e', c: 'Error', n: 'Error', m: 'x' }],
  ]
}

const idValue = fc.oneof(
  fc.integer({ min: -10, max: 10 }),
  fc.constantFrom(-0, NaN, 0.5, -1.5, 2 ** 53, -(2 ** 53), Infinity, -Infinity, 2 ** 31, -(2 ** 31)),
  fc.constantFrom(10n, -1n, '1', '-1', null, undefined, true, [], [-1], {}),
  fc.constant(null).map(() => ({ toString: 0 })),
  fc.constant(null).map(cyclicArray),
  fc.integer({ min: 2000, max: 3500 }).map((n) => nested(n, -1)),
)

type Mutation =
  | { m: 'field'; at: number; v: unknown }
  | { m: 'id'; at: number; v: unknown }
  | { m: 'tag'; v: unknown }
  | { m: 'argc'; v: unknown }
  | { m: 'truncate'; keep: number }
  | { m: 'dup'; times: number }
  | { m: 'swap'; a: number; b: number }
  | { m: 'nest'; at: number; depth: number }
  | { m: 'path'; v: unknown }
  | { m: 'splice'; other: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ m: fc.constant('field' as const), at: fc.nat({ max: 8 }), v: fc.oneof(hostileValue, special) }),
  fc.record({ m: fc.constant('id' as const), at: fc.nat({ max: 3 }), v: idValue }),
  fc.record({ m: fc.constant('tag' as const), v: fc.oneof(fc.integer({ min: -2, max: 34 }), idValue) }),
  fc.record({ m: fc.constant('argc' as const), v: fc.oneof(fc.integer({ min: -3, max: 6 }), fc.constantFrom(1e6, 2 ** 31, -0, 0.5, NaN), idValue) }),
  fc.record({ m: fc.constant('truncate' as const), keep: fc.nat({ max: 8 }) }),
  fc.record({ m: fc.constant('dup' as const), times: fc.integer({ min: 2, max: 50 }) }),
  fc.record({ m: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ m: fc.constant('nest' as const), at: fc.nat({ max: 8 }), depth: fc.integer({ min: 1, max: 3500 }) }),
  fc.record({
    m: fc.constant('path' as const),
    v: fc.oneof(
      fc.array(fc.constantFrom(...oddStrings.slice(0, -1), 0, -1, 1.5, 'add', 'Counter', 'prototype'), { maxLength: 6 }),
      hostileValue,
      fc.constant(null).map(() => [{ toString: 0 }]),
      fc.constant(null).map(() => [10n]),
    ),
  }),
  fc.record({ m: fc.constant('splice' as const), other: fc.nat() }),
)

/** Applies one mutation to a batch (a fresh copy; the corpus is never changed). */
export function mutate(batch: unknown[], mu: Mutation, pool: unknown[][]): unknown[] {
  const msgs = split(batch)
  const b = [...batch]
  switch (mu.m) {
    case 'field':
      if (b.length > 0) b[mu.at % b.length] = mu.v
      return b
    case 'id':
      // the id fields: rid/target of an op (1, 2), the id of PULL/RET/THROW/SETTLE/RELEASE/CANCEL (1), a count (2)
      b[1 + (mu.at % Math.min(3, Math.max(1, b.length - 1)))] = mu.v
      return b
    case 'tag':
      b[0] = mu.v
      return b
    case 'argc':
      if (typeof b[0] === 'number' && b[0] < OPS.length) b[5] = mu.v
      else b.push(mu.v)
      return b
    case 'truncate':
      return b.slice(0, mu.keep % (b.length + 1))
    case 'dup':
      return Array.from({ length: mu.times }, () => batch).flat()
    case 'swap': {
      if (msgs.length < 2) return [...b, ...b]
      const x = mu.a % msgs.length
      const y = mu.b % msgs.length
      ;[msgs[x], msgs[y]] = [msgs[y]!, msgs[x]!]
      return msgs.flat()
    }
    case 'nest':
      if (b.length > 0) b[mu.at % b.length] = nested(mu.depth, b[mu.at % b.length])
      return b
    case 'path':
      if (typeof b[0] === 'number' && b[0] < OPS.length) b[3] = mu.v
      else b.push(mu.v)
      return b
    case 'splice':
      return [...b, ...pool[mu.other % pool.length]!]
  }
}

function mutantAttack(corpus: Corpus): fc.Arbitrary<Attack> {
  const pool = [...corpus.session, ...corpus.answers, ...synthetic(), ...corpus.session.flatMap(split)]
  return fc
    .record({
      base: fc.nat(),
      muts: fc.array(mutation, { minLength: 1, maxLength: 3 }),
      hello: fc.constantFrom('before', 'none', 'same-batch'),
      bytes: fc.constantFrom('whole', 'whole', 'whole', 'drip', 'flip', 'cut', 'lie'),
      at: fc.nat(),
      times: fc.integer({ min: 1, max: 3 }),
    })
    .map(({ base, muts, hello, bytes, at, times }) => {
      let batch = pool[base % pool.length]!
      for (const mu of muts) batch = mutate(batch, mu, pool)
      const msgs = hello === 'before' ? [corpus.hello, batch] : hello === 'same-batch' ? [[...corpus.hello, ...batch]] : [batch]
      for (let k = 1; k < times; k++) msgs.push(batch)
      const note = `${hello} hello; ${muts.map(describeMutation).join(', ')} of pool[${base % pool.length}]${bytes !== 'whole' ? `; bytes ${bytes}` : ''}`
      const attack = framed('mutant', note, msgs)
      if (attack.chunks.length === 0) return attack
      const last = attack.chunks.length - 1
      const f = attack.chunks[last]!
      if (bytes === 'drip' && f.length <= 4096) attack.chunks.splice(last, 1, ...[...f].map((x) => Buffer.from([x])))
      else if (bytes === 'flip' && f.length > 4) {
        const g = Buffer.from(f)
        const k = 4 + (at % (g.length - 4))
        g[k] = g[k]! ^ (1 << (at % 8))
        attack.chunks[last] = g
      } else if (bytes === 'cut') attack.chunks[last] = f.subarray(0, at % f.length)
      else if (bytes === 'lie' && f.length > 4) {
        const g = Buffer.from(f)
        g.writeUInt32BE(Math.max(0, g.length - 4 + ((at % 9) - 4)))
        attack.chunks[last] = g
      }
      return attack
    })
}

/** A long-lived client: HELLO, then many frames (real ones, some mutated), one connection. */
function sessionAttack(corpus: Corpus): fc.Arbitrary<Attack> {
  const pool = [...corpus.session, ...synthetic()]
  return fc
    .record({
      picks: fc.array(fc.tuple(fc.nat(), fc.option(mutation, { freq: 4 })), { minLength: 20, maxLength: 150 }),
      replay: fc.boolean(),
    })
    .map(({ picks, replay }) => {
      const msgs: unknown[] = [corpus.hello]
      if (replay) msgs.push(...corpus.session)
      let mutated = 0
      for (const [i, mu] of picks) {
        const base = pool[i % pool.length]!
        if (mu !== null) mutated++
        msgs.push(mu === null ? base : mutate(base, mu, pool))
      }
      const a = framed('session', `${replay ? 'replayed session + ' : ''}${picks.length} frames, ${mutated} mutated`, msgs)
      a.linger = true
      return a
    })
}

/** Frames each message; one a v8 cannot serialize is skipped (noted). */
function framed(kind: Attack['kind'], note: string, msgs: unknown[]): Attack {
  const chunks: Buffer[] = []
  let skipped = 0
  for (const m of msgs) {
    try {
      chunks.push(frame(m))
    } catch {
      skipped++
    }
  }
  return { kind, note: skipped ? `${note} (${skipped} unserializable skipped)` : note, chunks, frames: chunks.length, linger: false }
}

/** Every attack the engine makes, in proportion: mostly mutants of real frames. */
export function attackArbitrary(corpus: Corpus): fc.Arbitrary<Attack> {
  return fc.oneof(
    { arbitrary: bytesAttack, weight: 2 },
    { arbitrary: valueAttack(corpus), weight: 3 },
    { arbitrary: mutantAttack(corpus), weight: 6 },
    { arbitrary: sessionAttack(corpus), weight: 1 },
  )
}

/**
 * The attacks for `seed`, generated `batch` at a time (so memory stays flat over long runs).
 * Attack k of a seed is always the same attack.
 */
export function* attacks(corpus: Corpus, seed: number, batch = 200): Generator<Attack & { index: number }> {
  const arb = attackArbitrary(corpus)
  for (let round = 0; ; round++) {
    const values = fc.sample(arb, { seed: (seed + round * 0x9e3779b1) | 0, numRuns: batch })
    for (let k = 0; k < values.length; k++) yield { ...values[k]!, index: round * batch + k }
  }
}

// ---- descriptions ----

/** A short, safe description of a wire value (never calls its toString). */
export function describe(v: unknown, depth = 0): string {
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'string') return v.length > 20 ? `string(${v.length})` : JSON.stringify(v)
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v)
  if (typeof v !== 'object' || v === null) return String(v)
  if (depth > 2) return '…'
  if (Array.isArray(v)) {
    let d = 0
    let x: unknown = v
    while (Array.isArray(x) && x.length === 1 && d < 5000) {
      x = x[0]
      d++
    }
    if (d > 8) return `${d}-deep array`
    return v.length > 6 ? `array(${v.length})` : `[${v.map((e) => describe(e, depth + 1)).join(', ')}]`
  }
  const proto = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return (proto?.constructor?.name as string | undefined) ?? 'object'
  return `{${Object.keys(v).slice(0, 4).map((k) => `${JSON.stringify(k)}: ${describe((v as Record<string, unknown>)[k], depth + 1)}`).join(', ')}}`
}

function describeMutation(mu: Mutation): string {
  switch (mu.m) {
    case 'field': case 'id': return `${mu.m}[${mu.at}]=${describe(mu.v)}`
    case 'tag': case 'argc': case 'path': return `${mu.m}=${describe(mu.v)}`
    case 'truncate': return `truncate(${mu.keep})`
    case 'dup': return `dup×${mu.times}`
    case 'swap': return 'swap'
    case 'nest': return `nest[${mu.at}]×${mu.depth}`
    case 'splice': return 'splice'
  }
}
