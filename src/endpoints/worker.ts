// Worker threads: worker() starts one and connects to it; serveParent() is the worker's side.
import { Worker, isMainThread, parentPort, type WorkerOptions } from 'node:worker_threads'
import { Connection } from '../protocol/connection.ts'
import { MessagePortTransport } from '../transport/message-port.ts'
import { WorkerTransport } from '../transport/worker.ts'
import type { ConnectionOptions } from '../types.ts'

/** worker() options: connection options plus the Worker's own. */
export interface WorkerConnectOptions extends ConnectionOptions {
  workerData?: unknown
  env?: WorkerOptions['env']
  execArgv?: string[]
  resourceLimits?: WorkerOptions['resourceLimits']
}

/**
 * Starts a worker thread running `file` (which calls serveParent()) and connects to it.
 * Resolves once the handshake is done. Rejects with ConnectionClosedError (exit code, and the
 * worker's error as `cause`) if the worker fails or exits first; the worker is then stopped.
 * `conn.close()` terminates the worker.
 */
export async function worker(file: string | URL, options: WorkerConnectOptions = {}): Promise<Connection> {
  const { workerData, env, execArgv, resourceLimits, ...connOptions } = options
  const w = new Worker(file, {
    workerData,
    ...(env !== undefined ? { env } : {}),
    ...(execArgv !== undefined ? { execArgv } : {}),
    ...(resourceLimits !== undefined ? { resourceLimits } : {}),
  })
  const conn = new Connection(new WorkerTransport(w), connOptions)
  try {
    await conn.ready
  } catch (err) {
    await conn.close()
    throw err
  }
  return conn
}

/**
 * The far side of worker(): serves `options.root` to the parent and resolves with the connection
 * (whose `root` is the parent's root) once the handshake is done.
 * Throws if this is not a worker thread started by worker().
 */
export async function serveParent(options: ConnectionOptions = {}): Promise<Connection> {
  if (isMainThread || parentPort === null) throw new Error('serveParent() must run in a worker thread, a forked child or a spawned child of farside')
  const conn = new Connection(new MessagePortTransport(parentPort), options)
  await conn.ready
  return conn
}
