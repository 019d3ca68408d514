// Child processes: fork() over IPC and spawn() over stdio; serveParent() serves from the child.
import * as cp from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { Connection } from '../protocol/connection.ts'
import { IpcTransport } from '../transport/ipc.ts'
import { StreamTransport } from '../transport/stream.ts'
import { started } from './start.ts'
import type { CloseInfo } from '../errors.ts'
import type { Readable } from 'node:stream'
import type { ConnectionOptions } from '../types.ts'
import { withHeartbeat } from './heartbeat.ts'
import { validateOptions } from '../protocol/options.ts'

/** Options of fork() and spawn(): connection options plus the child's own. */
export interface ChildOptions extends ConnectionOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  /** Node flags for the child (fork only). Default: none (not the parent's). */
  execArgv?: string[]
}

export interface SpawnOptions extends ChildOptions {
  /** Must be 'protocol': the child speaks farside on stdin/stdout; stderr passes through (teed). */
  stdio: 'protocol'
}

const CHILD_KEYS = ['env', 'cwd', 'execArgv']

/** Set in a spawned child's environment: serveParent() then speaks on stdin/stdout. */
export const STDIO_ENV = 'FARSIDE_STDIO'

/**
 * Starts `node modulePath ...args` with an IPC channel (serialization 'advanced') and connects to
 * it; the child calls serveParent(). Resolves once the handshake is done. Rejects with
 * ConnectionClosedError (exit code, signal) if the child fails or exits first; its `cause` then
 * holds the end of the child's stderr (`cause.stderr`: the last 20 lines, at most 4 KiB), and a
 * child that never spoke is named as one that did not call serveParent() (see started()). The
 * child's stderr passes through to this process's stderr as it comes (a pipe, teed, not the
 * inherited descriptor). `conn.close()` disconnects and stops the child (SIGTERM, then SIGKILL
 * after 2 s).
 */
export async function fork<T = unknown>(modulePath: string | URL, args: readonly string[] = [], options: ChildOptions = {}): Promise<Connection<T>> {
  if (!Array.isArray(args)) throw new TypeError('fork() args must be an array of strings')
  const { env, cwd, execArgv, ...connOptions } = options
  // before the child starts: a bad option must not leave a process running
  validateOptions(connOptions, CHILD_KEYS)
  const child = cp.fork(modulePath, args, {
    serialization: 'advanced',
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    execArgv: execArgv ?? [],
    ...(env !== undefined ? { env } : {}),
    ...(cwd !== undefined ? { cwd } : {}),
  })
  const stderr = new StderrTail(child.stderr!)
  const exited = exitOf(child, stderr)
  let spoke = false
  child.once('message', () => (spoke = true))
  const transport = new IpcTransport(child, { endInfo: () => settleExit(exited), teardown: () => stop(child, exited), holds: [child.stderr] })
  void exited.then((info) => transport.close(info))
  const conn = await started(new Connection<T>(transport, withHeartbeat(connOptions)).describe('fork', `pid ${child.pid}`), { kind: 'child', spoke: () => spoke }, connOptions)
  stderr.started()
  return conn
}

/**
 * Starts `command ...args` and speaks farside with it over its stdin/stdout (length-prefixed
 * node:v8 frames); its stderr passes through. The command may be anything that speaks the
 * protocol on stdio: a Node program calling serveParent() does (it sees FARSIDE_STDIO=1 in its
 * environment; over ssh, set it on the far command line). Resolves once the handshake is done;
 * rejects as fork() does (the end of the child's stderr as `cause`).
 */
export async function spawn<T = unknown>(command: string, args: readonly string[], options: SpawnOptions): Promise<Connection<T>> {
  if (options?.stdio !== 'protocol') throw new TypeError("spawn() needs { stdio: 'protocol' }")
  if (!Array.isArray(args)) throw new TypeError('spawn() args must be an array of strings')
  const { env, cwd, execArgv: _unused, stdio: _stdio, ...connOptions } = options
  validateOptions(connOptions, [...CHILD_KEYS, 'stdio'])
  const child = cp.spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...(env ?? process.env), [STDIO_ENV]: '1' },
    ...(cwd !== undefined ? { cwd } : {}),
  })
  const stderr = new StderrTail(child.stderr!)
  const exited = exitOf(child, stderr)
  let spoke = false
  child.stdout!.once('data', () => (spoke = true))
  const transport = new StreamTransport(child.stdout!, child.stdin!, {
    ...(connOptions.limits?.maxFrameBytes !== undefined ? { maxFrameBytes: connOptions.limits.maxFrameBytes } : {}),
    endInfo: () => settleExit(exited),
    teardown: () => stop(child, exited),
    holds: [child, child.stderr],
  })
  void exited.then((info) => transport.close(info))
  const conn = await started(new Connection<T>(transport, withHeartbeat(connOptions)).describe('spawn', `pid ${child.pid}`), { kind: 'child', spoke: () => spoke }, connOptions)
  stderr.started()
  return conn
}

/**
 * Resolves with why the child ended: its exit code and signal, or the spawn error. A child that
 * ends while it starts ends with the tail of its stderr as the error (reason 'error').
 */
async function exitOf(child: ChildProcess, stderr: StderrTail): Promise<CloseInfo> {
  const info = await exitInfo(child)
  return info.reason === 'error' ? info : stderr.explain(info)
}

function exitInfo(child: ChildProcess): Promise<CloseInfo> {
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

const TAIL_BYTES = 4096
const TAIL_LINES = 20

/**
 * A child's stderr, passed through to ours as it comes; while the child starts, its last bytes
 * are kept too, so that a start that fails can say why in the child's own words.
 */
class StderrTail {
  #chunks: Buffer[] | undefined = []
  #bytes = 0
  #ended: Promise<void>

  constructor(stream: Readable) {
    stream.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      const chunks = this.#chunks
      if (chunks === undefined) return
      chunks.push(chunk)
      this.#bytes += chunk.length
      while (chunks.length > 1 && this.#bytes - chunks[0]!.length >= TAIL_BYTES) this.#bytes -= chunks.shift()!.length
    })
    this.#ended = new Promise((resolve) => stream.once('close', resolve))
    // a grandchild that inherited the pipe may hold it open: it must not keep this process alive
    stream.once('end', () => (stream as { unref?: () => void }).unref?.())
  }

  /** The start is over: stop keeping what the child writes (it still passes through). */
  started(): void {
    this.#chunks = undefined
  }

  /**
   * `info` with the child's last stderr lines as its error, if it ended while starting and wrote
   * any. Waits (briefly) for the pipe to drain: the exit event can come before the last lines.
   */
  async explain(info: CloseInfo): Promise<CloseInfo> {
    if (this.#chunks === undefined) return info
    await Promise.race([this.#ended, delay(500, undefined)])
    const text = this.#text()
    if (text === '') return info
    const error = Object.assign(new Error(`the child's stderr ended with:\n${text}`), { stderr: text })
    return { ...info, reason: 'error', error }
  }

  #text(): string {
    const all = Buffer.concat(this.#chunks ?? [])
    let text = all.subarray(Math.max(0, all.length - TAIL_BYTES)).toString('utf8')
    // a cut in the middle of a line (or of a character): start at the next whole line
    if (all.length > TAIL_BYTES) text = text.slice(text.indexOf('\n') + 1)
    return text.trimEnd().split('\n').slice(-TAIL_LINES).join('\n')
  }
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms).unref())
}
