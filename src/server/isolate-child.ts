// The entry of a child process that listen({ isolate: 'process' }) starts per client: it gets the
// client's socket over IPC and serves the module on it. Imports farside by its public entry, so
// the served module and this file share one copy of it.
import * as tls from 'node:tls'
import type { Socket } from 'node:net'
import { serveStream } from '../index.ts'
import { failure, loadRoot, serveOne, type IsolateInit, type IsolateReport } from './isolate-entry.ts'

const send = (m: IsolateReport) => process.send!(m)

let served: { close(): Promise<void> } | undefined
// the server went (closed, or gone): this client's connection goes with it, and a spare it no
// longer needs (it closed before a client came) ends here
process.once('disconnect', () => (served !== undefined ? void served.close() : process.exit(0)))

// [{t: 'init', ...IsolateInit, tls?}] then [{t: 'socket'}, socket]
process.once('message', (init: IsolateInit & { tls?: tls.TlsOptions }) => {
  loadRoot(init.module).then((root) => {
    process.once('message', (_m: unknown, socket: Socket) => {
      const stream = init.tls !== undefined ? new tls.TLSSocket(socket, { isServer: true, ...init.tls }) : socket
      served = serveOne(serveStream, stream, root, init, () => process.exit(0))
      socket.resume()
    })
    send({ t: 'ready' })
  }, (err) => {
    send(failure(err))
    process.disconnect()
  })
})
