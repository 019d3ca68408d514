// Child-process rows: farside's fork() (IPC) and spawn() (stdin/stdout), each against its own raw
// ping-pong in a child started the same way by hand. Unlike the socket rows, farside and raw cannot
// share one far process here (each owns its child's only channel), so every child is pinned to the
// same CPU (placement.ts); the "raw, second child" rows show what difference is left between two
// children started alike.
import * as cp from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fork, spawn } from 'farside'
import { fixture, type Contender, type Session } from '../contenders/contender.ts'
import { session, type FarsideSession } from '../contenders/farside.ts'
import { v8Codec } from './frames.mjs'
import { pinnedChild, pinServer } from './placement.ts'
import { callTable, rawStreamSession } from './raw-stream.ts'

/** farside over IPC: fork() of a child that calls serveParent(). */
export const farsideFork: Contender<FarsideSession> = {
  name: 'farside',
  async start() {
    const conn = await pinnedChild(() => fork(fixture('farside-child.mjs')))
    return session(conn, () => conn.close())
  },
}

/** farside over the child's stdin/stdout: spawn(node, [child], { stdio: 'protocol' }). */
export const farsideSpawn: Contender<FarsideSession> = {
  name: 'farside',
  async start() {
    const conn = await pinnedChild(() => spawn(process.execPath, [fixturePath('farside-child.mjs')], { stdio: 'protocol' }))
    return session(conn, () => conn.close())
  },
}

/**
 * Raw IPC: child_process.fork with serialization 'advanced' and the stdio and (empty) execArgv
 * fork() uses; [id, a, b] out with one process.send, [id, sum] back with one.
 */
export function rawFork(name = 'raw IPC'): Contender {
  return {
    name,
    async start() {
      const child = cp.fork(fixture('raw-ipc.mjs'), [], { serialization: 'advanced', stdio: ['inherit', 'inherit', 'inherit', 'ipc'], execArgv: [] })
      pinServer(child.pid!)
      const exited = exitOf(child)
      const table = callTable((m) => child.send(m))
      child.on('message', table.answer)
      const call = table.call
      return {
        add: (a, b) => call<number>((id) => [id, a, b]),
        echo: (bytes) => call<Uint8Array>((id) => [id, bytes]),
        async close() {
          if (child.connected) child.disconnect()
          await exited
        },
      } satisfies Session
    },
  }
}

/** Raw stdio: node raw-stdio.mjs with stdin/stdout piped, length-prefixed v8 frames both ways. */
export function rawSpawn(name = 'raw stdio'): Contender {
  return {
    name,
    async start() {
      const child = cp.spawn(process.execPath, [fixturePath('raw-stdio.mjs')], { stdio: ['pipe', 'pipe', 'inherit'] })
      pinServer(child.pid!)
      const exited = exitOf(child)
      return rawStreamSession(child.stdout!, child.stdin!, v8Codec, async () => {
        child.stdin!.end()
        await exited
      })
    },
  }
}

function fixturePath(name: string): string {
  return fixture(name).pathname
}

function exitOf(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
}
