// Worker threads: worker() starts one and connects to it; serveParent() is the worker's side.
import { Worker, type WorkerOptions } from 'node:worker_threads'
import { Connection } from '../protocol/connection.ts'
import { WorkerTransport } from '../transport/worker.ts'
import { SharedMemoryTransport, ringBytesFor, setupMessage, type SharedMemoryOptions } from '../transport/shared-memory.ts'
import { createRings } from '../transport/shared-memory-ring.ts'
import { started } from './start.ts'
import { validateOptions } from '../protocol/options.ts'
import type { ConnectionOptions } from '../types.ts'

/** worker() options: connection options plus the Worker's own. */
export interface WorkerConnectOptions extends ConnectionOptions {
  workerData?: unknown
  env?: WorkerOptions['env']
  execArgv?: string[]
  resourceLimits?: WorkerOptions['resourceLimits']
  /** Ports and buffers in `workerData` to move to the worker. */
  transferList?: WorkerOptions['transferList']
  /**
   * Carry calls through shared memory (two rings in a SharedArrayBuffer) instead of postMessage:
   * a thread spins briefly for each answer, then parks. `true` for 1 MiB rings, or
   * `{ ringBytes }`. The worker's serveParent() finds out by itself. Default false.
   */
  sharedMemory?: boolean | SharedMemoryOptions
}

const WORKER_KEYS = ['workerData', 'env', 'execArgv', 'resourceLimits', 'transferList', 'sharedMemory']

/**
 * Starts a worker thread running `file` (which calls serveParent()) and connects to it.
 * Resolves once the handshake is done. Rejects with ConnectionClosedError (exit code, and the
 * worker's error as `cause`) if the worker fails or exits first, or does not start farside in
 * time (`limits.handshakeTimeout`); the worker is then stopped. A worker that never sent a
 * message is named as one that did not call serveParent() (see started()).
 * `conn.close()` terminates the worker. `sharedMemory` (see WorkerConnectOptions) is checked
 * like the other options: a TypeError naming it, before any thread starts.
 */
export async function worker<T = unknown>(file: string | URL, options: WorkerConnectOptions = {}): Promise<Connection<T>> {
  const { workerData, env, execArgv, resourceLimits, transferList, sharedMemory, ...connOptions } = options
  // before the worker starts: a bad option must not leave a thread running
  validateOptions(connOptions, WORKER_KEYS)
  const ringBytes = ringBytesFor(sharedMemory)
  const w = new Worker(file, {
    workerData,
    ...(transferList !== undefined ? { transferList } : {}),
    ...(env !== undefined ? { env } : {}),
    ...(execArgv !== undefined ? { execArgv } : {}),
    ...(resourceLimits !== undefined ? { resourceLimits } : {}),
  })
  let spoke = false
  w.once('message', () => (spoke = true))
  let transport: WorkerTransport | SharedMemoryTransport = new WorkerTransport(w)
  if (ringBytes !== undefined) {
    const sab = createRings(ringBytes)
    // the first message on the port, before the hello: serveParent() learns of the rings from it
    w.postMessage(setupMessage(sab))
    transport = new SharedMemoryTransport(transport, sab, 0)
  }
  const t = transport
  return started(new Connection<T>(t, connOptions).describe(ringBytes === undefined ? 'worker' : 'shared-memory', `thread ${w.threadId}`), { kind: 'worker', spoke: () => spoke || t.bytesIn > 0 }, connOptions)
}
