// The client half of the raw stream baselines (stdio, TCP, Unix socket, TLS): [id, a, b] out,
// [id, sum] back, one frame and one write per message, a promise per call, matched by id so that
// many may be in flight. The far half is frames.mjs's serveFrames().
import type { Readable, Writable } from 'node:stream'
import type { Session } from '../contenders/contender.ts'
import { frameReader, writeFrame, type Codec } from './frames.mjs'

export function rawStreamSession(input: Readable, output: Writable, codec: Codec, close: () => Promise<void>): Session {
  const pending = new Map<number, (v: any) => void>()
  let next = 0
  input.on(
    'data',
    frameReader(codec, (m) => {
      const [id, value] = m as [number, unknown]
      const resolve = pending.get(id)
      pending.delete(id)
      resolve?.(value)
    }),
  )
  const call = <T>(message: (id: number) => unknown[]) => {
    const id = next++
    return new Promise<T>((resolve) => {
      pending.set(id, resolve)
      writeFrame(output, codec, message(id))
    })
  }
  const session: Session = {
    add: (a, b) => call<number>((id) => [id, a, b]),
    close,
  }
  // payloads by value only where the codec carries bytes as bytes (node:v8, not JSON)
  if (codec.name === 'v8') session.echo = (bytes) => call<Uint8Array>((id) => [id, bytes])
  return session
}
