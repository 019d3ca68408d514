// Worker threads: worker() starts one and connects to it; serveParent() is the worker's side.
import { Worker, type WorkerOptions } from 'node:worker_threads'
import { Connection } from '../protocol/connection.ts'
import { WorkerTransport } from '../transport/worker.ts'
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
}

const WORKER_KEYS = ['workerData', 'env', 'execArgv', 'resourceLimits', 'transferList']

/**
 * Starts a worker thread running `file` (which calls serveParent()) and connects to it.
 * Resolves once the handshake is done. Rejects with ConnectionClosedError (exit code, and the
 * worker's error as `cause`) if the worker fails or exits first, or does not start farside in
 * time (`limits.handshakeTimeout`); the worker is then stopped. A worker that never sent a
 * message is named as one that did not call serveParent() (see started()).
 * `conn.close()` terminates the worker.
 */
export async function worker<T = unknown>(file: string | URL, options: WorkerConnectOptions = {}): Promise<Connection<T>> {
  const { workerData, env, execArgv, resourceLimits, transferList, ...connOptions } = options
  // before the worker starts: a bad option must not leave a thread running
  validateOptions(connOptions, WORKER_KEYS)
  const w = new Worker(file, {
    workerData,
    ...(transferList !== undefined ? { transferList } : {}),
    ...(env !== undefined ? { env } : {}),
    ...(execArgv !== undefined ? { execArgv } : {}),
    ...(resourceLimits !== undefined ? { resourceLimits } : {}),
  })
  let spoke = false
  w.once('message', () => (spoke = true))
  return started(new Connection<T>(new WorkerTransport(w), connOptions).describe('worker', `thread ${w.threadId}`), { kind: 'worker', spoke: () => spoke }, connOptions)
}
