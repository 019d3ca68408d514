// listen()'s `isolate` (RPyC's ForkingServer): each client gets a child process (its socket handed
// over IPC) or a worker thread (its bytes relayed over a MessagePort) serving the module, so one
// client's heavy call or crash never stalls or kills another. One spare is kept started.
import * as cp from 'node:child_process'
import { MessageChannel, Worker } from 'node:worker_threads'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { resolve } from 'node:path'
import { pipeline } from 'node:stream'
import type * as net from 'node:net'
import type * as tls from 'node:tls'
import { PortDuplex } from './relay.ts'
import type { IsolateInit, IsolateReport } from './isolate-entry.ts'

/** One client's child process or worker thread. */
export interface Isolate {
  readonly kind: 'process' | 'worker'
  /** The child's pid, or the worker's threadId. */
  readonly id: number
  /** Resolves once it has ended. */
  readonly ended: Promise<void>
}

// '.ts' from the sources, '.js' from dist's ESM, '.cjs' from dist's CommonJS
const ext = import.meta.url.slice(import.meta.url.lastIndexOf('.'))
const entryOf = (kind: 'process' | 'worker') => new URL(`./isolate-${kind === 'process' ? 'child' : 'worker'}${ext}`, import.meta.url)

/** Node flags a child gets: the parent's (a loader, say), not its debugger port. */
const childFlags = () => process.execArgv.filter((a) => !a.startsWith('--inspect'))

interface Started extends Isolate {
  /** Resolves when the module has loaded; rejects with why it did not. */
  ready: Promise<void>
  take(socket: net.Socket): void
  stop(): void
}

function startProcess(init: IsolateInit, tlsOptions: tls.TlsOptions | undefined): Started {
  const child = cp.fork(fileURLToPath(entryOf('process')), [], { serialization: 'advanced', execArgv: childFlags(), stdio: 'inherit' })
  const ended = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const ready = new Promise<void>((resolve, reject) => {
    child.once('message', (m: IsolateReport) => (m.t === 'ready' ? resolve() : reject(new Error(m.error))))
    void ended.then(() => reject(new Error(`the isolated child exited (code ${child.exitCode}, signal ${child.signalCode}) before it loaded ${init.module}`)))
  })
  ready.catch(() => {})
  child.on('error', () => {})
  child.send({ t: 'init', ...init, ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}) })
  const stop = () => {
    if (child.connected) child.disconnect()
    // a child busy in a long call cannot hear the disconnect: it goes anyway
    const timer = setTimeout(() => child.kill('SIGKILL'), 2000)
    void ended.then(() => clearTimeout(timer))
  }
  return {
    kind: 'process', id: child.pid ?? 0, ended, ready, stop,
    // [{t: 'socket'}, socket]: Node closes the socket here once it is sent
    take: (socket) => child.send({ t: 'socket' }, socket, (err) => err && socket.destroy()),
  }
}

function startWorker(init: IsolateInit): Started {
  const w = new Worker(entryOf('worker'), { workerData: init })
  const ended = new Promise<void>((resolve) => w.once('exit', () => resolve()))
  let failed: Error | undefined
  w.on('error', (err) => (failed ??= err))
  const ready = new Promise<void>((resolve, reject) => {
    w.once('message', (m: IsolateReport) => (m.t === 'ready' ? resolve() : reject(new Error(m.error))))
    void ended.then(() => reject(new Error(`the isolated worker ended before it loaded ${init.module}${failed ? `: ${failed.message}` : ''}`)))
  })
  ready.catch(() => {})
  const stop = () => {
    w.postMessage({ t: 'close' })
    const timer = setTimeout(() => void w.terminate(), 2000)
    void ended.then(() => clearTimeout(timer))
  }
  return {
    kind: 'worker', id: w.threadId, ended, ready, stop,
    take: (socket) => {
      const { port1, port2 } = new MessageChannel()
      const relay = new PortDuplex(port1)
      // either end failing or ending ends both; the worker ending ends the client's socket once
      // what it sent last has been written (a crash right after an answer still answers)
      pipeline(socket, relay, socket, () => {})
      void ended.then(() => {
        relay.finish()
        setTimeout(() => socket.destroy(), 2000).unref()
      })
      w.postMessage({ t: 'socket', port: port2 }, [port2])
    },
  }
}

/** Starts isolates for one server: `warm()` once, then `take(socket)` per client. */
export class Isolator {
  readonly live = new Set<Isolate>()
  #kind: 'process' | 'worker'
  #init: IsolateInit
  #tls: tls.TlsOptions | undefined
  #spare: Started | undefined
  #closed = false

  constructor(kind: 'process' | 'worker', init: IsolateInit, tlsOptions?: tls.TlsOptions) {
    this.#kind = kind
    this.#init = init
    this.#tls = tlsOptions
  }

  #start(): Started {
    const s = this.#kind === 'process' ? startProcess(this.#init, this.#tls) : startWorker(this.#init)
    this.live.add(s)
    void s.ended.then(() => {
      this.live.delete(s)
      if (this.#spare === s) this.#spare = undefined
    })
    return s
  }

  /** Starts the spare and waits for it: rejects if the module does not load (then nothing runs). */
  async warm(): Promise<void> {
    const s = (this.#spare = this.#start())
    try {
      await s.ready
    } catch (err) {
      s.stop()
      await s.ended
      throw err
    }
  }

  /** Hands `socket` to the spare (once it is ready) and starts the next one. Rejects if it fails. */
  async take(socket: net.Socket): Promise<void> {
    const s = this.#spare ?? this.#start()
    this.#spare = this.#closed ? undefined : this.#start()
    try {
      await s.ready
    } catch (err) {
      s.stop()
      throw err
    }
    if (this.#closed) throw new Error('the server is closing')
    s.take(socket)
  }

  /** Ends every isolate (their clients' connections close) and waits for them. */
  async close(): Promise<void> {
    this.#closed = true
    this.#spare = undefined
    const all = [...this.live] as Started[]
    for (const s of all) s.stop()
    await Promise.all(all.map((s) => s.ended))
  }
}

/**
 * listen()'s `isolate` and `module` checked (a TypeError names what is wrong) and made an
 * Isolator. `options` are the rest of listen()'s options; `validate` checks them as a
 * connection's. The module path is resolved from the working directory.
 */
export function isolatorOf(isolate: unknown, module: unknown, options: Record<string, unknown>, tlsOptions: tls.TlsOptions | undefined, validate: (o: never) => unknown): Isolator {
  if (isolate !== 'process' && isolate !== 'worker') throw new TypeError("options.isolate must be 'process' or 'worker' (with options.module)")
  if (typeof module !== 'string' && !(module instanceof URL)) throw new TypeError('options.isolate needs options.module: the path or URL of the module whose default export each isolate serves')
  const { authenticate, ...rest } = options
  for (const [key, v] of Object.entries({ root: rest.root, authenticate, registry: rest.registry })) {
    if (v !== undefined) throw new TypeError(`options.${key} cannot be used with options.isolate: each isolate serves the module's default export, with options that are plain data`)
  }
  for (const key of ['users', 'secret']) {
    if (typeof rest[key] === 'function') throw new TypeError(`options.${key} cannot be a function with options.isolate (it must cross to the isolate): give the secrets as data`)
  }
  validate(rest as never)
  return new Isolator(isolate, { module: moduleHref(module), options: rest }, tlsOptions)
}

/** A module path (from the working directory) or URL, as a URL to import. */
export function moduleHref(module: string | URL): string {
  return module instanceof URL ? module.href : /^[a-z][a-z0-9+.-]+:/i.test(module) ? module : pathToFileURL(resolve(module)).href
}
