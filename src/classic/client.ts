// Classic mode's caller side beyond the Connection's own members: upload(), download() and
// redirectStdio(). They drive the peer's ClassicService (service.ts) through the public core.
import { promises as fs } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Connection } from '../protocol/connection.ts'
import type { ClassicService, Entry } from './service.ts'
import type { Remote } from '../types.ts'

/** Bytes per chunk: far below the 64 MiB default frame limit, large enough to stream well. */
export const CHUNK = 1024 * 1024
/** Chunks in flight at once: the next ones are on the way while one is written. */
const WINDOW = 4

const serviceOf = (conn: Connection): Remote<ClassicService> => conn.classicService()

async function localEntry(path: string): Promise<Entry | undefined> {
  try {
    const s = await fs.stat(path)
    return [s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other', s.size]
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return undefined
    throw err
  }
}

/** Runs `count` jobs with at most WINDOW running, in order of start; rejects with the first failure. */
async function windowed(count: number, job: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < count) await job(next++)
  }
  await Promise.all(Array.from({ length: Math.min(WINDOW, count) }, worker))
}

/**
 * Copies a local file or directory (recursively; symbolic links followed) to `remotePath` on
 * the peer, in chunks of 1 MiB, so a file of any size fits the frame limit. A file replaces what
 * is at `remotePath`; a directory is created there (or merged into one that exists) with the
 * same tree. Missing parent directories on the peer are made. Relative remote paths are from the
 * peer's working directory. Rejects if `localPath` does not exist, is neither a file nor a
 * directory, or the peer refuses (AccessError without `classic: true` there).
 */
export async function upload(conn: Connection, localPath: string, remotePath: string): Promise<void> {
  checkPaths('upload', localPath, remotePath)
  const svc = serviceOf(conn)
  const copy = async (from: string, to: string): Promise<void> => {
    const entry = await localEntry(from)
    if (entry === undefined) throw Object.assign(new Error(`upload(): no such file or directory '${from}'`), { code: 'ENOENT' })
    if (entry[0] === 'dir') {
      await svc.mkdir(to)
      for (const name of (await fs.readdir(from)).sort()) await copy(join(from, name), `${to}/${name}`)
      return
    }
    if (entry[0] !== 'file') throw new TypeError(`upload(): '${from}' is neither a file nor a directory`)
    await svc.create(to)
    const file = await fs.open(from, 'r')
    try {
      const size = entry[1]
      await windowed(Math.ceil(size / CHUNK), async (i) => {
        const buf = Buffer.alloc(Math.min(CHUNK, size - i * CHUNK))
        await file.read(buf, 0, buf.length, i * CHUNK)
        await svc.writeAt(to, i * CHUNK, buf)
      })
    } finally {
      await file.close()
    }
  }
  await copy(resolve(localPath), remotePath)
}

/**
 * Copies a file or directory (recursively) at `remotePath` on the peer to `localPath` here, in
 * chunks of 1 MiB; the mirror of upload(), with the same rules for what is replaced, merged and
 * created. Rejects if nothing is at `remotePath`.
 */
export async function download(conn: Connection, remotePath: string, localPath: string): Promise<void> {
  checkPaths('download', remotePath, localPath)
  const svc = serviceOf(conn)
  const copy = async (from: string, to: string): Promise<void> => {
    const entry = (await svc.stat(from)) as Entry | undefined
    if (entry === undefined) throw Object.assign(new Error(`download(): no such file or directory '${from}' on the peer`), { code: 'ENOENT' })
    if (entry[0] === 'dir') {
      await fs.mkdir(to, { recursive: true })
      for (const name of (await svc.list(from)) as string[]) await copy(`${from}/${name}`, join(to, name))
      return
    }
    if (entry[0] !== 'file') throw new TypeError(`download(): '${from}' on the peer is neither a file nor a directory`)
    await fs.mkdir(resolve(to, '..'), { recursive: true })
    const file = await fs.open(to, 'w')
    try {
      const size = entry[1]
      await windowed(Math.ceil(size / CHUNK), async (i) => {
        const bytes = (await svc.readAt(from, i * CHUNK, Math.min(CHUNK, size - i * CHUNK))) as Uint8Array
        await file.write(bytes, 0, bytes.length, i * CHUNK)
      })
    } finally {
      await file.close()
    }
  }
  await copy(remotePath, resolve(localPath))
}

function checkPaths(what: string, a: unknown, b: unknown): void {
  if (typeof a !== 'string' || a === '' || typeof b !== 'string' || b === '') throw new TypeError(`${what}() needs two non-empty paths`)
}

/** Where redirected output goes here; process.stdout / process.stderr unless told. */
export interface RedirectOptions {
  stdout?: { write(text: string): unknown }
  stderr?: { write(text: string): unknown }
}

/** Undoes a redirection: a function to call (or `await using`). Idempotent. */
export type Undo = (() => Promise<void>) & { [Symbol.asyncDispose](): Promise<void> }

/**
 * Shows the peer's output here: from when this resolves until the returned function is called
 * (or the connection closes), everything the peer process writes to its process.stdout and
 * process.stderr — console.* included, in its classic namespace and elsewhere — is written to
 * this side's stdout / stderr (or `options.stdout` / `options.stderr`) instead of the peer's.
 * The redirection is the peer process's: while several connections redirect it, each gets every
 * write. Output the peer makes while serving a call arrives before the call's result.
 */
export async function redirectStdio(conn: Connection, options: RedirectOptions = {}): Promise<Undo> {
  const out = options.stdout ?? process.stdout
  const err = options.stderr ?? process.stderr
  const stop = (await serviceOf(conn).redirect((stream: 'stdout' | 'stderr', text: string) => {
    ;(stream === 'stderr' ? err : out).write(text)
  })) as unknown as () => Promise<void>
  let undone: Promise<void> | undefined
  const undo = (() => (undone ??= conn.isClosed ? Promise.resolve() : Promise.resolve(stop()).then(() => {}))) as Undo
  undo[Symbol.asyncDispose] = undo
  return undo
}
