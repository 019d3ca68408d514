// Classic mode's serving side (RPyC's SlaveService): the object a peer reaches through
// conn.modules, conn.eval(), conn.execute(), conn.run(), upload(), download() and
// redirectStdio(). One per connection, made on first use, only where the connection was opened
// with `classic: true` (the core refuses the reserved name otherwise). Full code execution for
// the peer by design: for trusted peers only.
import { promises as fs } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Namespace, cwdRequire } from './namespace.ts'
import { addSink } from './stdio.ts'

/** What a path is, for the file helpers: `[type, size]`, or undefined if nothing is there. */
export type Entry = ['file' | 'dir' | 'other', number]

/** The largest chunk readAt() gives: well under the default frame limit. */
const MAX_CHUNK = 16 * 1024 * 1024

/** Names that are probes of a value (thenables, codec tags), never modules. */
const MODULE_NAME = /^(node:)?(@[\w.-]+\/)?[\w.-]+(\/[\w.-]+)*$/

/** The object behind `conn.modules`: reading a name loads that module here. */
class Modules {}

function modules(): object {
  const require = cwdRequire()
  return new Proxy(new Modules(), {
    get(_target, name) {
      if (typeof name !== 'string' || name === 'then' || !MODULE_NAME.test(name)) return undefined
      try {
        return require(name)
      } catch (err) {
        const code = (err as { code?: unknown }).code
        // an ES module only: import() gives its namespace (a promise the call waits for)
        if (code === 'ERR_REQUIRE_ESM') return import(pathToFileURL(require.resolve(name)).href)
        if (code === 'MODULE_NOT_FOUND' && String((err as Error).message).includes(`'${name}'`)) {
          throw Object.assign(new Error(`classic: the peer has no module '${name}' (from ${process.cwd()})`, { cause: err }), { code })
        }
        throw err
      }
    },
  })
}

function checkString(what: string, v: unknown): asserts v is string {
  if (typeof v !== 'string') throw new TypeError(`${what} needs a string`)
}

/** One connection's classic service. Its methods are what the peer calls; state is #private. */
export class ClassicService {
  /** This process's modules, by name: `modules.os`, `modules['node:fs']`, `modules.lodash`. */
  readonly modules = modules()
  #namespace: Namespace | undefined
  #stops = new Set<() => void>()

  constructor(closed: Promise<unknown>) {
    // a connection that goes away takes its redirections with it
    void closed.then(() => {
      for (const stop of this.#stops) stop()
      this.#stops.clear()
    })
  }

  get #ns(): Namespace {
    return (this.#namespace ??= new Namespace())
  }

  /** Evaluates an expression in this connection's namespace. */
  eval(expr: unknown): unknown {
    checkString('eval()', expr)
    return this.#ns.run(`(${expr}\n)`, 'eval')
  }

  /** Runs statements in this connection's namespace. */
  execute(code: unknown): undefined {
    checkString('execute()', code)
    this.#ns.run(code, 'execute')
    return undefined
  }

  /** Calls a function, given its source, in this connection's namespace. */
  run(source: unknown, args: unknown): unknown {
    checkString('run()', source)
    if (!Array.isArray(args)) throw new TypeError('run() needs an argument list')
    return this.#ns.teleport(source, args)
  }

  /** Sends this process's stdout/stderr writes to `write` until the returned function is called. */
  redirect(write: unknown): () => void {
    if (typeof write !== 'function') throw new TypeError('redirect() needs a function')
    const sink = (stream: 'stdout' | 'stderr', text: string) => {
      // awaited, so answered and forgotten; a peer gone away is no error here
      ;(write(stream, text) as PromiseLike<unknown>).then(undefined, () => {})
    }
    const remove = addSink(sink)
    const stop = () => {
      remove()
      this.#stops.delete(stop)
    }
    this.#stops.add(stop)
    return stop
  }

  // ---- files: paths relative to this process's working directory ----

  /** `[type, size]` of a path (symbolic links followed), or undefined if there is nothing. */
  async stat(path: unknown): Promise<Entry | undefined> {
    checkString('stat()', path)
    try {
      const s = await fs.stat(resolve(path))
      return [s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', s.size]
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ENOENT') return undefined
      throw err
    }
  }

  /** The names in a directory, sorted. */
  async list(path: unknown): Promise<string[]> {
    checkString('list()', path)
    return (await fs.readdir(resolve(path))).sort()
  }

  /** Makes a directory and its missing parents; a directory already there is fine. */
  async mkdir(path: unknown): Promise<void> {
    checkString('mkdir()', path)
    await fs.mkdir(resolve(path), { recursive: true })
  }

  /** Creates (or empties) a file, making its missing parent directories. */
  async create(path: unknown): Promise<void> {
    checkString('create()', path)
    await fs.mkdir(dirname(resolve(path)), { recursive: true })
    await fs.writeFile(resolve(path), new Uint8Array(0))
  }

  /** Writes `data` at `position` of a file made by create(). */
  async writeAt(path: unknown, position: unknown, data: unknown): Promise<void> {
    checkString('writeAt()', path)
    if (!Number.isSafeInteger(position) || (position as number) < 0) throw new TypeError('writeAt() needs a position')
    if (!(data instanceof Uint8Array)) throw new TypeError('writeAt() needs bytes')
    const file = await fs.open(resolve(path), 'r+')
    try {
      await file.write(data, 0, data.length, position as number)
    } finally {
      await file.close()
    }
  }

  /** Up to `length` bytes of a file from `position` (fewer at its end). */
  async readAt(path: unknown, position: unknown, length: unknown): Promise<Uint8Array> {
    checkString('readAt()', path)
    if (!Number.isSafeInteger(position) || (position as number) < 0) throw new TypeError('readAt() needs a position')
    if (!Number.isSafeInteger(length) || (length as number) < 0 || (length as number) > MAX_CHUNK) throw new TypeError(`readAt() needs a length up to ${MAX_CHUNK}`)
    const file = await fs.open(resolve(path), 'r')
    try {
      const buf = Buffer.alloc(length as number)
      const { bytesRead } = await file.read(buf, 0, buf.length, position as number)
      // a copy of the short last chunk: a view would carry its whole buffer across
      return bytesRead === buf.length ? buf : new Uint8Array(buf.subarray(0, bytesRead))
    } finally {
      await file.close()
    }
  }
}
