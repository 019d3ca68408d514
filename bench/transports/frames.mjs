// The raw stream baselines' wire, hand-written: each message is one frame, a 4-byte big-endian
// length and then the body (node:v8 serialize, the serialization farside's stream transport uses,
// or JSON.stringify for the JSON baseline), and every frame leaves in a write of its own. This is
// what a careful hand-rolled protocol does with no batching, so it is what farside's
// one-batch-per-tick framing is measured against. Plain .mjs: the child processes load it too.
import { deserialize, serialize } from 'node:v8'

const HEADER = 4
/** Below this a frame is copied into one buffer (one write); above it, header and body go out corked (one writev, no copy). */
const SMALL = 64 * 1024

/** node:v8, as farside's stream transport and the IPC channel ('advanced') use. */
export const v8Codec = {
  name: 'v8',
  encode: (message) => serialize(message),
  decode: (body) => deserialize(body),
}

/** JSON text, utf-8: the baseline a hand-written JSON-lines-like protocol gives. */
export const jsonCodec = {
  name: 'JSON',
  encode: (message) => Buffer.from(JSON.stringify(message)),
  decode: (body) => JSON.parse(body.toString('utf8')),
}

/** Writes `message` as one frame, in one write (one syscall for a socket that is not backed up). */
export function writeFrame(out, codec, message) {
  const body = codec.encode(message)
  if (body.length < SMALL) {
    const frame = Buffer.allocUnsafe(HEADER + body.length)
    frame.writeUInt32BE(body.length, 0)
    body.copy(frame, HEADER)
    return out.write(frame)
  }
  const header = Buffer.allocUnsafe(HEADER)
  header.writeUInt32BE(body.length, 0)
  out.cork()
  out.write(header)
  const ok = out.write(body)
  out.uncork()
  return ok
}

/** Cuts a byte stream into frames and hands each decoded message to `onMessage`. */
export function frameReader(codec, onMessage) {
  const chunks = []
  let buffered = 0
  let need = -1
  // n bytes off the front: a view when the first chunk holds them, else one copy of the pieces
  const take = (n) => {
    const first = chunks[0]
    let out
    if (first.length >= n) {
      out = first.subarray(0, n)
      if (first.length === n) chunks.shift()
      else chunks[0] = first.subarray(n)
    } else {
      out = Buffer.allocUnsafe(n)
      let at = 0
      while (at < n) {
        const c = chunks[0]
        const k = Math.min(c.length, n - at)
        c.copy(out, at, 0, k)
        at += k
        if (k === c.length) chunks.shift()
        else chunks[0] = c.subarray(k)
      }
    }
    buffered -= n
    return out
  }
  return (chunk) => {
    chunks.push(chunk)
    buffered += chunk.length
    for (;;) {
      if (need < 0) {
        if (buffered < HEADER) return
        need = take(HEADER).readUInt32BE(0)
      }
      if (buffered < need) return
      const body = take(need)
      need = -1
      onMessage(codec.decode(body))
    }
  }
}

/** The raw far side: [id, a, b] → [id, a + b]; [id, bytes] → [id, bytes] (decoded, then encoded again). */
export function answer(message) {
  return message.length === 3 ? [message[0], message[1] + message[2]] : message
}

/** Serves the raw baseline on a stream pair: one frame in, one frame out. */
export function serveFrames(input, output, codec) {
  input.on('data', frameReader(codec, (m) => writeFrame(output, codec, answer(m))))
}
