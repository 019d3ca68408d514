// The client half of the raw stream baselines (stdio, TCP, Unix socket, TLS): [id, a, b] out,
// [id, sum] back, one frame and one write per message, a promise per call, matched by id so that
// many may be in flight. The far half is frames.mjs's serveFrames().
import type { Readable, Writable } from 'node:stream'
import type { Session } from '../contenders/contender.ts'
import { frameReader, writeFrame, type Codec } from './frames.mjs'

/**
 * The raw baselines' calls: a promise per call, matched by id so that many may be in flight.
 * `send` writes one message; feed every reply (`[id, value]`) to `answer`.
 */
export function callTable(send: (message: unknown[]) => void) {
  const pending = new Map<number, (v: any) => void>()
  let next = 0
  return {
    answer(m: unknown): void {
      const [id, value] = m as [number, unknown]
      const resolve = pending.get(id)
      pending.delete(id)
      resolve?.(value)
    },
    call<T>(message: (id: number) => unknown[]): Promise<T> {
      const id = next++
      return new Promise<T>((resolve) => {
        pending.set(id, resolve)
        send(message(id))
      })
    },
  }
}

export function rawStreamSession(input: Readable, output: Writable, codec: Codec, close: () => Promise<void>): Session {
  const table = callTable((m) => writeFrame(output, codec, m))
  input.on('data', frameReader(codec, table.answer))
  const call = table.call
  const session: Session = {
    add: (a, b) => call<number>((id) => [id, a, b]),
    close,
  }
  // payloads by value only where the codec carries bytes as bytes (node:v8, not JSON)
  if (codec.name === 'v8') session.echo = (bytes) => call<Uint8Array>((id) => [id, bytes])
  return session
}
