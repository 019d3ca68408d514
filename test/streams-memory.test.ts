// Bounded memory: far more bytes than would fit if either side buffered the stream, through a
// consumer slower than the producer; both sides' RSS must stay near where it started. In-process
// (pair: both ends in this process, 1 GiB; worker: one process, 512 MiB) and across processes (fork: 256 MiB, the producer's
// RSS read from it as the stream flows). Sizes keep `npm test` within its budget on 2 busy cores.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Readable } from 'node:stream'
import { transports, within } from './harness.ts'
import type { Service } from './fixtures/service.ts'
import type { Remote } from '../src/index.ts'

const MiB = 2 ** 20
/** The target of the streams issue: each side below 64 MiB above its baseline while it runs. */
const BOUND = 64 * MiB
const plan: Record<string, number> = { pair: 1024 * MiB, worker: 512 * MiB, fork: 256 * MiB }

const m = suite('streams-memory')

for (const transport of transports.filter((t) => plan[t.name] !== undefined)) {
  const total = plan[transport.name]!
  m(`${transport.name}: ${total / MiB} MiB through a slow reader, both sides' RSS bounded`, async () => {
    const peer = await within(transport.start(), 20000, `starting ${transport.name}`)
    try {
      const root = peer.conn.root as Remote<Service>
      const chunk = 64 * 1024
      // warm both sides up (buffers, the stream machinery) before the baselines are read
      for await (const _ of (await root.streams.bytes(64, chunk)) as Readable) void _
      globalThis.gc?.()
      const baseHere = process.memoryUsage().rss
      const baseThere = await root.streams.rss()
      let peakHere = baseHere
      let peakThere = baseThere
      const stream = (await root.streams.bytes(total / chunk, chunk)) as Readable
      let got = 0
      let n = 0
      for await (const c of stream) {
        got += (c as Uint8Array).length
        // slower than the producer: a turn of the event loop every few chunks
        if (++n % 4 === 0) await new Promise((r) => setImmediate(r))
        if (n % 512 === 0) {
          peakHere = Math.max(peakHere, process.memoryUsage().rss)
          peakThere = Math.max(peakThere, await root.streams.rss())
        }
      }
      assert.is(got, total)
      const mib = (x: number) => `${(x / MiB).toFixed(1)} MiB`
      if (transport.remote && transport.name !== 'worker') {
        assert.ok(peakHere - baseHere < BOUND, `this side grew by ${mib(peakHere - baseHere)} streaming ${mib(total)}`)
        assert.ok(peakThere - baseThere < BOUND, `the producer grew by ${mib(peakThere - baseThere)} streaming ${mib(total)}`)
      } else {
        // both sides in this process (one heap, or two isolates): their sum is what RSS shows
        assert.ok(peakHere - baseHere < 2 * BOUND, `the two sides grew by ${mib(peakHere - baseHere)} streaming ${mib(total)}`)
      }
    } finally {
      await peer.close()
    }
  })
}

m.run()
