// The baseline: hand-written ping-pong, one postMessage of a small array per call and one reply,
// with a promise per call (any real caller needs one to get its answer home). No library.
import { MessageChannel } from 'node:worker_threads'
import type { Contender, Host, Opened, Session } from './contender.ts'

/** What the raw baseline needs of a port: Worker and MessagePort both fit. */
interface RawPort {
  postMessage(value: unknown): void
  on(event: 'message', listener: (value: [number, unknown]) => void): unknown
}

/** Calls over `port`: [id, a, b] out, [id, sum] back, matched by id so many may be in flight. */
function rawSession(port: RawPort, close: () => Promise<void>): Session {
  const pending = new Map<number, (v: any) => void>()
  let next = 0
  port.on('message', (m) => {
    const resolve = pending.get(m[0])
    pending.delete(m[0])
    resolve?.(m[1])
  })
  return {
    add(a, b) {
      const id = next++
      return new Promise<number>((resolve) => {
        pending.set(id, resolve)
        // [id, a, b]
        port.postMessage([id, a, b])
      })
    },
    echo(bytes) {
      const id = next++
      return new Promise<Uint8Array>((resolve) => {
        pending.set(id, resolve)
        // [id, bytes], copied by structured clone (no transfer list), as farside's by-value call
        port.postMessage([id, bytes])
      })
    },
    close,
  }
}

/** Raw over a dedicated MessageChannel port to `host`: the transport the peers ride on. */
export function raw(host: Host, name = 'raw postMessage'): Contender {
  return {
    name,
    async start() {
      const { port, close } = await host.open('raw')
      return rawSession(port, close)
    },
  }
}

/**
 * Two raw rows served by one worker of their own: over the Worker object and its parentPort (the
 * transport worker() rides on) and over a MessageChannel port (the one the peers ride on). Being
 * one thread, they show what the choice of port costs, free of thread placement luck.
 */
export function rawWorkerAndChannel(host: Host): [worker: Contender, channel: Contender] {
  let opened: Promise<Opened> | undefined
  let users = 0
  const share = async (pick: (o: Opened) => RawPort | undefined) => {
    users++
    const o = await (opened ??= host.open('raw'))
    const port = pick(o)
    if (port === undefined) throw new Error('this host gives no worker per library')
    let closed = false
    return rawSession(port, async () => {
      if (closed) return
      closed = true
      if (--users === 0) await o.close()
    })
  }
  return [
    { name: 'raw postMessage (Worker port)', start: () => share((o) => o.worker) },
    { name: 'raw postMessage (MessageChannel)', start: () => share((o) => o.port) },
  ]
}

/** Raw over a MessageChannel whose two ends live in this thread: no thread wake-up at all. */
export const rawSameThread: Contender = {
  name: 'raw postMessage',
  async start() {
    const { port1, port2 } = new MessageChannel()
    port2.on('message', (m: [number, number, number] | [number, Uint8Array]) => port2.postMessage(m.length === 3 ? [m[0], m[1] + m[2]] : m))
    return rawSession(port1, async () => {
      port1.close()
    })
  },
}
