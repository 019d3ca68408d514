// What an isolated child process or worker thread does (listen()'s `isolate`): load the module,
// say whether it loaded, then serve one client's stream and end with it. Shared by both entries.
import type { Duplex } from 'node:stream'
import type { Connection } from '../protocol/connection.ts'

/** What the server sends a new isolate: the module to serve, and the connection options. */
export interface IsolateInit {
  module: string
  options: Record<string, unknown>
}

// from the isolate: {t: 'ready'} | {t: 'failed', error: text}
export type IsolateReport = { t: 'ready' } | { t: 'failed'; error: string }

/**
 * Imports `href` and returns its default export (the root, or a factory `(conn) => root`);
 * throws an Error that names the module when it cannot be loaded or has no default export.
 */
export async function loadRoot(href: string): Promise<object> {
  let mod: { default?: unknown }
  try {
    mod = (await import(href)) as { default?: unknown }
  } catch (err) {
    throw new Error(`cannot load the module ${href}: ${(err as Error)?.message ?? err}`, { cause: err })
  }
  const root = mod.default
  if (root === null || (typeof root !== 'object' && typeof root !== 'function')) {
    throw new Error(`the module ${href} has no default export to serve (export default the object, or a function (conn) => object)`)
  }
  return root as object
}

/** The report of a failed load, one line. */
export const failure = (err: unknown): IsolateReport => ({ t: 'failed', error: String((err as Error)?.message ?? err) })

/**
 * Serves `stream` with `serve` and calls `exit` once the connection has closed (this isolate
 * exists for that one client). Returns the connection.
 */
export function serveOne(serve: (stream: Duplex, options: Record<string, unknown>) => Connection, stream: Duplex, root: object, init: IsolateInit, exit: () => void): Connection {
  const conn = serve(stream, { ...init.options, root })
  void conn.closed.then(exit, exit)
  return conn
}
