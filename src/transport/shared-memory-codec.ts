// How a batch becomes a shared-memory record: a compact tagged encoding of the flat batch (numbers,
// strings, arrays, plain objects: what most batches hold), else node:v8's serializer for the rest
// (Map, Date, typed arrays, errors, bigints, shared or cyclic sub-objects). Same result as
// structured clone either way. Format and tags: PROTOCOL.md, "Shared-memory rings".
import { serialize, deserialize } from 'node:v8'

/** The first byte of a record's body. */
export const enum Format {
  Compact = 1,
  V8 = 2,
}

const enum T {
  Undefined,
  Null,
  False,
  True,
  Int32,
  Float64,
  /** u32 length, then one byte per character (all below 0x80). */
  Ascii,
  /** u32 byte length, then UTF-16LE code units (lone surrogates survive). */
  Utf16,
  /** u32 length, then the items. */
  Array,
  /** u32 count, then count × (key as a tagged Ascii/Utf16 string, value). */
  Object,
}

const MAX_DEPTH = 64
/** Thrown inside the encoder: the value needs v8 (or the port, if too big). */
const BAIL = Symbol('bail')
const TOO_BIG = Symbol('too big')
const objectProto = Object.prototype

/** Encodes batches into one reusable scratch buffer (per transport: not reentrant). */
export class Encoder {
  #buf = Buffer.allocUnsafe(4096)
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.byteLength)
  #n = 0
  #seen: object[] = []
  #seenSet: Set<object> | undefined
  #max: number

  /** @param max the largest body that fits a record: longer encodings give up early */
  constructor(max: number) {
    this.#max = max
  }

  /**
   * Encodes `data`: the format and the bytes (`body`, its first `length` bytes), or undefined when
   * the encoding is longer than `max` (send it by the port). Throws what v8.serialize throws for a
   * value structured clone refuses (a function, a symbol), before anything was written.
   */
  encode(data: unknown): { format: Format; body: Uint8Array; length: number } | undefined {
    this.#n = 0
    this.#seen.length = 0
    this.#seenSet = undefined
    try {
      this.#value(data, 0)
      return { format: Format.Compact, body: this.#buf, length: this.#n }
    } catch (err) {
      if (err === TOO_BIG) return undefined
      if (err !== BAIL) throw err
    } finally {
      this.#seen.length = 0
      this.#seenSet = undefined
    }
    const body = serialize(data)
    return body.length > this.#max ? undefined : { format: Format.V8, body, length: body.length }
  }

  #room(n: number): void {
    const need = this.#n + n
    if (need > this.#max) throw TOO_BIG
    if (need <= this.#buf.length) return
    const next = Buffer.allocUnsafe(Math.min(Math.max(need, this.#buf.length * 2), this.#max))
    this.#buf.copy(next, 0, 0, this.#n)
    this.#buf = next
    this.#view = new DataView(next.buffer, next.byteOffset, next.byteLength)
  }

  #tag(t: T): void {
    this.#room(1)
    this.#buf[this.#n++] = t
  }

  #value(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'number':
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          this.#room(5)
          this.#buf[this.#n] = T.Int32
          this.#view.setInt32(this.#n + 1, v, true)
          this.#n += 5
        } else {
          this.#room(9)
          this.#buf[this.#n] = T.Float64
          this.#view.setFloat64(this.#n + 1, v, true)
          this.#n += 9
        }
        return
      case 'string':
        return this.#string(v)
      case 'boolean':
        return this.#tag(v ? T.True : T.False)
      case 'undefined':
        return this.#tag(T.Undefined)
      case 'object':
        if (v === null) return this.#tag(T.Null)
        return this.#object(v, depth)
      default:
        // bigint goes by v8; functions and symbols too, which then throw DataCloneError
        throw BAIL
    }
  }

  #string(s: string): void {
    const len = s.length
    if (len <= 32) {
      this.#room(5 + len)
      const buf = this.#buf
      const at = this.#n + 5
      let i = 0
      for (; i < len; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[at + i] = c
      }
      if (i === len) {
        buf[this.#n] = T.Ascii
        this.#view.setUint32(this.#n + 1, len, true)
        this.#n = at + len
        return
      }
    } else if (Buffer.byteLength(s, 'utf8') === len) {
      this.#room(5 + len)
      this.#buf[this.#n] = T.Ascii
      this.#view.setUint32(this.#n + 1, len, true)
      this.#buf.write(s, this.#n + 5, len, 'latin1')
      this.#n += 5 + len
      return
    }
    this.#room(5 + 2 * len)
    this.#buf[this.#n] = T.Utf16
    this.#view.setUint32(this.#n + 1, 2 * len, true)
    this.#buf.write(s, this.#n + 5, 2 * len, 'utf16le')
    this.#n += 5 + 2 * len
  }

  #object(v: object, depth: number): void {
    if (depth >= MAX_DEPTH) throw BAIL
    // structured clone keeps one copy of a shared sub-object (and cycles): v8 does that
    const seen = this.#seen
    if (this.#seenSet !== undefined) {
      if (this.#seenSet.has(v)) throw BAIL
      this.#seenSet.add(v)
    } else {
      if (seen.includes(v)) throw BAIL
      seen.push(v)
      if (seen.length > 16) this.#seenSet = new Set(seen)
    }
    if (Array.isArray(v)) {
      const len = v.length
      this.#room(5)
      this.#buf[this.#n] = T.Array
      this.#view.setUint32(this.#n + 1, len, true)
      this.#n += 5
      for (let i = 0; i < len; i++) {
        const x = v[i]
        // a hole stays a hole in structured clone
        if (x === undefined && !(i in v)) throw BAIL
        this.#value(x, depth + 1)
      }
      return
    }
    const proto = Object.getPrototypeOf(v)
    if (proto !== objectProto && proto !== null) {
      // bytes longer than a record go by the port: not through v8.serialize first (16 MiB echoed:
      // 1.85× raw postMessage with that extra copy each way)
      if ((ArrayBuffer.isView(v) || v instanceof ArrayBuffer) && v.byteLength > this.#max) throw TOO_BIG
      throw BAIL
    }
    const keys = Object.keys(v)
    this.#room(5)
    this.#buf[this.#n] = T.Object
    this.#view.setUint32(this.#n + 1, keys.length, true)
    this.#n += 5
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      this.#string(k)
      this.#value((v as Record<string, unknown>)[k], depth + 1)
    }
  }
}

/** Decodes record bodies from one ring's data area. */
export class Decoder {
  #buf: Buffer
  #view: DataView
  #at = 0

  constructor(buf: Buffer, view: DataView) {
    this.#buf = buf
    this.#view = view
  }

  /** The value in buf[start, end) (format byte first). Throws on bytes no Encoder wrote. */
  decode(start: number, end: number): unknown {
    const format = this.#buf[start]
    // copied out first: node:v8 hands back typed arrays that are views of its input, which here is
    // the ring (shared, and reused as soon as the record is read)
    if (format === Format.V8) return deserialize(Buffer.from(this.#buf.subarray(start + 1, end)))
    if (format !== Format.Compact) throw new RangeError(`unknown shared-memory record format ${format}`)
    this.#at = start + 1
    const v = this.#value(end)
    if (this.#at !== end) throw new RangeError('shared-memory record longer than its value')
    return v
  }

  #value(end: number): unknown {
    if (this.#at >= end) throw new RangeError('shared-memory record ends inside a value')
    const t = this.#buf[this.#at++]
    switch (t) {
      case T.Int32:
        this.#at += 4
        if (this.#at > end) throw new RangeError('shared-memory record ends inside a number')
        return this.#view.getInt32(this.#at - 4, true)
      case T.Ascii:
      case T.Utf16:
        return this.#string(t, end)
      case T.Array: {
        const len = this.#u32(end)
        if (len > end - this.#at) throw new RangeError('shared-memory array longer than its record')
        const a = new Array(len)
        for (let i = 0; i < len; i++) a[i] = this.#value(end)
        return a
      }
      case T.Object: {
        const count = this.#u32(end)
        const o: Record<string, unknown> = {}
        for (let i = 0; i < count; i++) {
          const kt = this.#buf[this.#at++]
          if (kt !== T.Ascii && kt !== T.Utf16) throw new RangeError('shared-memory object key is not a string')
          const k = this.#string(kt, end)
          // a key named __proto__ must stay an own property, as structured clone makes it
          if (k === '__proto__') Object.defineProperty(o, k, { value: this.#value(end), enumerable: true, writable: true, configurable: true })
          else o[k] = this.#value(end)
        }
        return o
      }
      case T.Float64:
        this.#at += 8
        if (this.#at > end) throw new RangeError('shared-memory record ends inside a number')
        return this.#view.getFloat64(this.#at - 8, true)
      case T.Undefined:
        return undefined
      case T.Null:
        return null
      case T.False:
        return false
      case T.True:
        return true
      default:
        throw new RangeError(`unknown shared-memory value tag ${t}`)
    }
  }

  #u32(end: number): number {
    if (this.#at + 4 > end) throw new RangeError('shared-memory record ends inside a length')
    this.#at += 4
    return this.#view.getUint32(this.#at - 4, true)
  }

  #string(t: T, end: number): string {
    const len = this.#u32(end)
    const at = this.#at
    if (at + len > end) throw new RangeError('shared-memory string longer than its record')
    this.#at = at + len
    return this.#buf.toString(t === T.Ascii ? 'latin1' : 'utf16le', at, at + len)
  }
}
