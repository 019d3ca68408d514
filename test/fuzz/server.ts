// The fuzz target: a listen() server in a child process, serving a small root. The parent forks
// it (with --expose-gc), reads the port from the first IPC message, and watches for its exit: an
// exit is a crash (its stderr holds the stack). `stats()` reports the server's own counts.
import { Readable } from 'node:stream'
import { listen } from '../../src/index.ts'

class Counter {
  count = 0
  constructor(start = 0) {
    this.count = start
  }
  inc(by = 1): number {
    this.count += by
    return this.count
  }
}

let server: Awaited<ReturnType<typeof listen>> | undefined

const root = {
  version: 1,
  nested: { deep: { value: 42 }, list: [1, 2, 3] },
  Counter,
  add: (a: number, b: number) => a + b,
  echo: <T>(x: T): T => x,
  // streams: a byte producer, and a consumer of whatever stream the fuzzer's markers name
  bytes: (n: number) => Readable.from(Array.from({ length: Math.min(Number(n) || 0, 64) }, () => Buffer.alloc(1024)), { objectMode: false }),
  consume: async (r: AsyncIterable<unknown>) => {
    let n = 0
    for await (const _ of r) n++
    return n
  },
  range: (n: number) => ({ *[Symbol.iterator]() { for (let i = 0; i < n; i++) yield i } }),
  later: <T>(x: T) => new Promise<T>((r) => setImmediate(() => r(x))),
  call: (f: (x: number) => unknown, x: number) => f(x),
  makeCounter: (start: number) => new Counter(start),
  /** Open connections and heap after a full gc (this connection included). */
  stats: () => {
    ;(globalThis as { gc?: () => void }).gc?.()
    const m = process.memoryUsage()
    return { connections: server!.connections.size, pending: server!.pending.size, heapUsed: m.heapUsed, rss: m.rss }
  },
}

const handshakeTimeout = Number(process.argv[2] ?? 2000)
server = await listen({ host: '127.0.0.1', port: 0 }, { root, limits: { handshakeTimeout } })
server.registry.export('reg', new Counter(7))
process.send!({ port: (server.address as { port: number }).port })
// the parent going away (or closing the channel) stops the server
process.on('disconnect', () => {
  void server!.close().then(() => process.exit(0))
})
