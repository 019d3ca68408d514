// The far side of the worker rows (a rollup input of its own: dist/bench-worker.js). workerData
// says which: farside (serveParent), the raw ping-pong on the worker's own port, or a peer
// library (comlink, capnweb, birpc, if installed) on the MessagePort in workerData.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { serveParent } from '../../index.ts'
import { answer, service } from './pingpong.ts'
import { servePeer, type PeerName } from './peers.ts'

const data = workerData as { mode: 'farside' } | { mode: 'raw' } | { mode: 'peer'; lib: PeerName; port: MessagePort }
if (data.mode === 'farside') await serveParent({ root: service() })
else if (data.mode === 'raw') parentPort!.on('message', (m: unknown[]) => parentPort!.postMessage(answer(m)))
else await servePeer(data.lib, data.port)
