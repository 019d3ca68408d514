// Where the peers' far sides run. On this 2-core machine a round trip to a worker comes in two
// speeds (about 17 µs and 50 µs), by how the OS schedules the two threads (most likely whether
// they share a core), and a thread keeps its mode for a while. Rows served by different threads
// therefore differ by luck; rows served by one thread share it. So by default every library is
// served by the one farside worker, each on its own port (sharedHost); ownWorkers() gives each
// library a thread of its own, for comparison.
import { MessageChannel, Worker } from 'node:worker_threads'
import { transfer, type Connection, type Remote } from 'farside'
import { fixture, type Host, type Opened, type PeerLib } from './contender.ts'

interface Hosting {
  host(lib: PeerLib, port: unknown): void
}

/** Serves each library in farside's worker thread, on a MessageChannel port farside transfers there. */
export function sharedHost(conn: Connection): Host {
  const root = conn.root as Remote<Hosting>
  return {
    async open(lib) {
      const { port1, port2 } = new MessageChannel()
      await root.host(lib, transfer(port2, [port2]))
      return {
        port: port1,
        async close() {
          port1.close()
        },
      }
    },
  }
}

/** Starts one worker per library: the one-worker-per-library configuration. */
export function ownWorkers(): Host {
  return {
    async open(lib): Promise<Opened> {
      const { port1, port2 } = new MessageChannel()
      const worker = new Worker(fixture('peer-worker.mjs'), { workerData: { lib, port: port2 }, transferList: [port2] })
      await new Promise<void>((resolve, reject) => {
        worker.once('error', reject)
        worker.once('online', () => {
          worker.off('error', reject)
          resolve()
        })
      })
      return {
        port: port1,
        worker,
        async close() {
          port1.close()
          await worker.terminate()
        },
      }
    },
  }
}
