// The far side of the child-process and socket rows (a rollup input of its own:
// dist/bench-child.js). argv[2] says which: farside (serveParent, over IPC or stdio as started),
// the raw IPC or raw stdio ping-pong, or the socket host (farside's listen() and the raw servers
// on TCP, a Unix socket and TLS, in this one process; its IPC channel carries only set-up and stop).
import { serveParent } from '../../index.ts'
import { answer, serveFrames, service } from './pingpong.ts'
import { serveSockets } from './sockets.ts'

const mode = process.argv[2]
if (mode === 'farside') await serveParent({ root: service() })
else if (mode === 'raw-ipc') process.on('message', (m: unknown[]) => process.send!(answer(m)))
else if (mode === 'raw-stdio') serveFrames(process.stdin, process.stdout)
else if (mode === 'sockets') serveSockets()
else throw new Error(`farside bench child: unknown mode ${mode}`)
