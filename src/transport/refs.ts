// What keeps the event loop alive for a transport (its port, worker, socket, child process, IPC
// channel): one helper for conn.ref() / conn.unref(), shared by the adapters.

/** Anything with Node's ref()/unref() pair: MessagePort, Worker, net.Socket, ChildProcess, its channel. */
interface Holder {
  ref?(): unknown
  unref?(): unknown
}

/**
 * Lets `things` keep the process alive (`on`) or not. Skips what is missing or has no such
 * methods (a web-style port, stdio that is a file); idempotent, as Node's own methods are.
 */
export function holdOpen(things: readonly unknown[], on: boolean): void {
  for (const thing of things) {
    if (thing === null || (typeof thing !== 'object' && typeof thing !== 'function')) continue
    const h = thing as Holder
    if (on) {
      if (typeof h.ref === 'function') h.ref()
    } else if (typeof h.unref === 'function') h.unref()
  }
}
