// The far side of the worker rows (a rollup input of its own: dist/bench-worker.js): farside's
// serveParent(), whose root also hosts the raw ping-pong and the peer libraries in this same
// thread, each on a MessagePort the parent transfers, so every worker row shares one thread.
import type { MessagePort } from 'node:worker_threads'
import { serveParent } from '../../index.ts'
import { answer, service } from './pingpong.ts'
import { servePeer, type PeerName } from './peers.ts'

await serveParent({
  root: {
    ...service(),
    /** Serves `lib` ('raw' or a peer library) on `port`, in this thread. */
    async host(lib: 'raw' | PeerName, port: MessagePort) {
      if (lib === 'raw') port.on('message', (m: unknown[]) => port.postMessage(answer(m)))
      else await servePeer(lib, port)
    },
  },
})
