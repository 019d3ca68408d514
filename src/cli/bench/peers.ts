// The peer libraries (comlink, capnweb, birpc) over a MessagePort to a worker thread, as the
// worker rows' company. They are not dependencies of farside: each is imported by a specifier
// held in a variable (so neither the bundler nor TypeScript reaches for it) from wherever the
// user installed it, and a library that does not load is left out with a note.
import type { MessagePort } from 'node:worker_threads'
import { once, service, type Session } from './pingpong.ts'

export type PeerName = 'comlink' | 'capnweb' | 'birpc'
export const PEERS: PeerName[] = ['comlink', 'capnweb', 'birpc']

/** comlink ships no "exports" map and a UMD "main": its ESM files are named by path. */
const SPECIFIERS: Record<PeerName, string[]> = {
  comlink: ['comlink/dist/esm/comlink.mjs', 'comlink/dist/esm/node-adapter.mjs'],
  capnweb: ['capnweb'],
  birpc: ['birpc'],
}

/** Loads a peer's modules, or rejects (not installed, or not loadable from here). */
export async function loadPeer(name: PeerName): Promise<any[]> {
  const specifiers: string[] = SPECIFIERS[name]
  return Promise.all(specifiers.map((s) => import(s)))
}

/** The worker's side: serves add and echo with `name` on `port`. */
export async function servePeer(name: PeerName, port: MessagePort): Promise<void> {
  const [lib, adapter] = await loadPeer(name)
  const impl = service()
  if (name === 'comlink') lib.expose(impl, adapter.default(port))
  else if (name === 'birpc') lib.createBirpc(impl, { post: (d: unknown) => port.postMessage(d), on: (fn: (d: unknown) => void) => port.on('message', fn) })
  else {
    // capnweb passes by reference only RpcTargets, and exposes what their prototype defines
    class Service extends lib.RpcTarget {
      add(a: number, b: number) {
        return a + b
      }
      echo(bytes: Uint8Array) {
        return bytes
      }
    }
    lib.newMessagePortRpcSession(port, new Service())
  }
}

/** The main thread's side over `port` (the far side runs servePeer); closing it closes the port. */
export async function peerSession(name: PeerName, port: MessagePort): Promise<Session> {
  const [lib, adapter] = await loadPeer(name)
  let remote: { add(a: number, b: number): Promise<number>; echo(b: Uint8Array): Promise<Uint8Array> }
  let dispose = () => {}
  if (name === 'comlink') remote = lib.wrap(adapter.default(port))
  else if (name === 'birpc') {
    const rpc = lib.createBirpc({}, { post: (d: unknown) => port.postMessage(d), on: (fn: (d: unknown) => void) => port.on('message', fn) })
    remote = rpc
    dispose = () => rpc.$close()
  } else remote = lib.newMessagePortRpcSession(port)
  return {
    add: (a, b) => remote.add(a, b),
    echo: (bytes) => remote.echo(bytes),
    close: once(async () => {
      dispose()
      port.close()
    }),
  }
}
