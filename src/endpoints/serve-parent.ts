// The far side of worker(), fork() and spawn(): one call that finds how it was started.
import { isMainThread, parentPort } from 'node:worker_threads'
import { Writable } from 'node:stream'
import { Connection } from '../protocol/connection.ts'
import type { Transport } from '../transport/transport.ts'
import { acceptTransport } from './port.ts'
import { IpcTransport } from '../transport/ipc.ts'
import { StreamTransport } from '../transport/stream.ts'
import { SharedMemoryTransport } from '../transport/shared-memory.ts'
import { STDIO_ENV } from './child.ts'
import type { ConnectionOptions } from '../types.ts'
import { withHeartbeat } from './heartbeat.ts'

/**
 * Serves `options.root` to the parent and resolves with the connection (whose `root` is the
 * parent's root) once the handshake is done. Works in a worker thread started by worker(), a
 * child started by fork() (IPC) and a child started by spawn() (stdin/stdout: FARSIDE_STDIO=1 in
 * the environment; stdout then carries the protocol and `process.stdout.write` — console.log —
 * is sent to stderr instead). Throws if the process was started in none of these ways.
 *
 * When the parent goes away without close() (it exits, crashes or is killed), the connection
 * closes (reason 'peer'), everything pending rejects with ConnectionClosedError and the
 * connection lets go of the channel: a child with nothing else to do then exits (code 0). A
 * child that keeps its own timers, sockets or servers alive stays up: end it on `conn.closed`
 * (e.g. `conn.closed.then(() => process.exit())`) if it must not outlive its parent.
 */
export async function serveParent<T = unknown>(options: ConnectionOptions = {}): Promise<Connection<T>> {
  // a parent thread shares this process: no heartbeat; a parent process over a pipe may freeze
  const inThread = !isMainThread && parentPort !== null
  const stdio = !inThread && process.env[STDIO_ENV] === '1'
  const transport = await parentTransport(options)
  const conn = new Connection<T>(transport, inThread ? options : withHeartbeat(options))
  conn.describe(inThread ? (transport instanceof SharedMemoryTransport ? 'shared-memory' : 'worker') : stdio ? 'spawn' : 'fork', inThread ? 'parent thread' : `pid ${process.ppid}`)
  await conn.ready
  return conn
}

async function parentTransport(options: ConnectionOptions): Promise<Transport> {
  // the parent's first message says which: the shared-memory setup (worker(url, { sharedMemory }))
  // or its hello; it always sends one of them at once
  if (!isMainThread && parentPort !== null) return acceptTransport(parentPort)
  if (process.env[STDIO_ENV] === '1') {
    // children of this process must not take their stdio for a protocol channel
    delete process.env[STDIO_ENV]
    const max = options.limits?.maxFrameBytes
    return new StreamTransport(process.stdin, stdoutForProtocol(), {
      ...(max !== undefined ? { maxFrameBytes: max } : {}),
      teardown: () => {
        process.stdin.destroy()
      },
    })
  }
  if (typeof process.send === 'function') {
    return new IpcTransport(process, {
      // on a later turn: disconnecting inside a 'message' handler that Node replays from its
      // queue (messages that came before the listener) nulls the channel under the replay loop,
      // which then throws; and only while connected (the parent may have gone first)
      teardown: () => new Promise<void>((resolve) => setImmediate(() => {
        if (process.connected) process.disconnect?.()
        resolve()
      })),
    })
  }
  throw new Error('serveParent() must run in a worker thread, a forked child or a spawned child of farside')
}

/** Takes stdout for the protocol and points everything else that writes to it at stderr. */
function stdoutForProtocol(): Writable {
  const stdout = process.stdout
  const write = stdout.write.bind(stdout)
  stdout.write = process.stderr.write.bind(process.stderr) as typeof stdout.write
  const out = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      write(chunk, callback)
    },
  })
  return out
}
