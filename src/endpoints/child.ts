// Child processes: fork() over IPC and spawn() over stdio; serveParent() serves from the child.
import * as cp from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { Connection } from '../protocol/connection.ts'
import { IpcTransport } from '../transport/ipc.ts'
import { StreamTransport } from '../transport/stream.ts'
import { handshake } from './handshake.ts'
import type { CloseInfo } from '../errors.ts'
import type { ConnectionOptions } from '../types.ts'
import { withHeartbeat } from './heartbeat.ts'

/** Options of fork() and spawn(): connection options plus the child's own. */
export interface ChildOptions extends ConnectionOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Node flags for the child (fork only). Default: none (not the parent's). */
  execArgv?: string[]
}

export interface SpawnOptions extends ChildOptions {
  /** Must be 'protocol': the child speaks farside on stdin/stdout; stderr passes through. */
  stdio: 'protocol'
}

/** Set in a spawned child's environment: serveParent() then speaks on stdin/stdout. */
export const STDIO_ENV = 'FARSIDE_STDIO'

/**
 * Starts `node modulePath ...args` with an IPC channel (serialization 'advanced') and connects to
 * it; the child calls serveParent(). Resolves once the handshake is done. Rejects with
 * ConnectionClosedError (exit code, signal) if the child fails or exits first. `conn.close()`
 * disconnects and stops the child (SIGTERM, then SIGKILL after 2 s).
 */
export async function fork(modulePath: string | URL, args: readonly string[] = [], options: ChildOptions = {}): Promise<Connection> {
  if (!Array.isArray(args)) throw new TypeError('fork() args must be an array of strings')
  const { env, cwd, execArgv, ...connOptions } = options
  const child = cp.fork(modulePath, args, {
    serialization: 'advanced',
    stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
    execArgv: execArgv ?? [],
    ...(env !== undefined ? { env } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
  })
  const exited = exitOf(child)
  const transport = new IpcTransport(child, { endInfo: () => settleExit(exited), teardown: () => stop(child, exited) })
  exited.then((info) => transport.close(info))
  return handshake(new Connection(transport, withHeartbeat(connOptions)))
}

/**
 * Starts `command ...args` and speaks farside with it over its stdin/stdout (length-prefixed
 * node:v8 frames); its stderr passes through. The command may be anything that speaks the
 * protocol on stdio: a Node program calling serveParent() does (it sees FARSIDE_STDIO=1 in its
 * environment; over ssh, set it on the far command line). Resolves once the handshake is done.
 */
export async function spawn(command: string, args: readonly string[], options: SpawnOptions): Promise<Connection> {
  if (options?.stdio !== 'protocol') throw new TypeError("spawn() needs { stdio: 'protocol' }")
  if (!Array.isArray(args)) throw new TypeError('spawn() args must be an array of strings')
  const { env, cwd, execArgv: _unused, stdio: _stdio, ...connOptions } = options
  const child = cp.spawn(command, args, {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: { ...(env ?? process.env), [STDIO_ENV]: '1' },
    ...(cwd !== undefined ? { cwd } : {}),
  })
  const exited = exitOf(child)
  const transport = new StreamTransport(child.stdout!, child.stdin!, {
    ...(connOptions.limits?.maxFrameBytes !== undefined ? { maxFrameBytes: connOptions.limits.maxFrameBytes } : {}),
    endInfo: () => settleExit(exited),
    teardown: () => stop(child, exited),
  })
  exited.then((info) => transport.close(info))
  return handshake(new Connection(transport, withHeartbeat(connOptions)))
}

/** Resolves with why the child ended: its exit code and signal, or the spawn error. */
function exitOf(child: ChildProcess): Promise<CloseInfo> {
  return new Promise((resolve) => {
    child.once('error', (error) => {
      // ENOENT and the like: the process never ran
      if (child.pid === undefined) resolve({ reason: 'error', error })
    })
    child.once('exit', (code, signal) => {
      resolve(signal !== null || (code !== 0 && code !== null) ? { reason: 'peer', exitCode: code, signal } : { reason: 'peer', exitCode: code })
    })
  })
}

/**
 * The exit info, if the child exits soon after its channel ends (it usually does). The wait is
 * generous: on a loaded machine the exit event of a killed child can trail its pipe's end by
 * more than half a second, and then the signal would be lost.
 */
function settleExit(exited: Promise<CloseInfo>): Promise<CloseInfo> {
  return Promise.race([exited, new Promise<CloseInfo>((r) => setTimeout(() => r({ reason: 'peer' }), 2000).unref())])
}

/** Lets the child go: disconnect, then SIGTERM, then SIGKILL; resolves when it has exited. */
async function stop(child: ChildProcess, exited: Promise<CloseInfo>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  if (child.connected) child.disconnect()
  child.stdin?.end()
  const gone = await Promise.race([exited.then(() => true), delay(1000, false)])
  if (gone) return
  child.kill('SIGTERM')
  if (await Promise.race([exited.then(() => true), delay(2000, false)])) return
  child.kill('SIGKILL')
  await exited
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms).unref())
}
