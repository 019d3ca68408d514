// What every row of the benchmark is: a library (or the raw baseline) over one transport, started
// once and then driven by the scenarios. The other transports (IPC, stdio, TCP, Unix socket, TLS)
// live in ../transports/ and return the same Session shape.
import type { MessagePort, Worker } from 'node:worker_threads'

/** A started contender: the calls the scenarios make, each resolving when its answer is home. */
export interface Session {
  /** `add(a, b)` on the far side: one round trip. */
  add(a: number, b: number): PromiseLike<number>
  /** `makeNode(1).child(0).value`, pipelined if the library can; resolves to 10. */
  chain?(): PromiseLike<number>
  /** The same three steps, each awaited before the next is sent. */
  steps?(): PromiseLike<number>
  /** `run(cb)`: the far side calls `cb(1)` once and answers 1. */
  callback?(): PromiseLike<number>
  /** `echo(bytes)`: the bytes go out and come back by value (the payload-scaling rows). */
  echo?(bytes: Uint8Array): PromiseLike<Uint8Array>
  /** Stops the far side. Idempotent. */
  close(): Promise<void>
}

/** A row in the tables: its label and how to start it. */
export interface Contender<S extends Session = Session> {
  /** Shown in the tables, e.g. "farside", "comlink". */
  name: string
  start(): Promise<S>
}

/** The libraries a Host can serve; fixtures/serve-<lib>.mjs is each one's far side. */
export type PeerLib = 'raw' | 'comlink' | 'capnweb' | 'birpc'

/** A port to a thread that serves a library; `worker` when that thread is the library's own. */
export interface Opened {
  port: MessagePort
  worker?: Worker
  close(): Promise<void>
}

/** Where the peers' far sides run (see hosts.ts). */
export interface Host {
  open(lib: PeerLib): Promise<Opened>
}

/** The worker fixtures, found next to the bench sources. */
export function fixture(name: string): URL {
  return new URL(`../fixtures/${name}`, import.meta.url)
}
