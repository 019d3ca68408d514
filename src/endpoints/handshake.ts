// The last step of every function that starts a peer: wait for the handshake, or clean up.
import type { Connection } from '../protocol/connection.ts'

/** Resolves with `conn` once its handshake is done; else closes it (stopping what it started) and rethrows. */
export async function handshake<T>(conn: Connection<T>): Promise<Connection<T>> {
  try {
    await conn.ready
  } catch (err) {
    await conn.close()
    throw err
  }
  return conn
}
