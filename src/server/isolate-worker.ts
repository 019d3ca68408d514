// The entry of a worker thread that listen({ isolate: 'worker' }) starts per client: the client's
// bytes come relayed over a MessagePort, and it serves the module on them. Imports farside by its
// public entry, so the served module and this file share one copy of it.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { serveStream } from '../index.ts'
import { PortDuplex } from './relay.ts'
import { failure, loadRoot, serveOne, type IsolateInit, type IsolateReport } from './isolate-entry.ts'

const init = workerData as IsolateInit
const port = parentPort!
const send = (m: IsolateReport) => port.postMessage(m)
let served: { close(): Promise<void> } | undefined
let root: object | undefined

// [{t: 'socket', port}] once, and [{t: 'close'}] when the server closes
port.on('message', (m: { t: 'socket'; port: MessagePort } | { t: 'close' }) => {
  if (m.t === 'close') {
    if (served !== undefined) void served.close()
    else process.exit(0)
  } else if (served === undefined && root !== undefined) {
    served = serveOne(serveStream, new PortDuplex(m.port), root, init, () => process.exit(0))
  }
})

loadRoot(init.module).then((loaded) => {
  root = loaded
  send({ t: 'ready' })
}, (err) => send(failure(err)))
