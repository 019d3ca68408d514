// The registry server (RPyC's rpyc_registry): servers register a service name and their port,
// refresh it, and are dropped when they stop refreshing; clients query by name. TCP and UDP on
// one port. Safe to expose: bounded entries, connections and message sizes; bad input ignored.
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import { decodeRequest, encodeAnswer, MAX_ANSWER, MAX_MESSAGE, REGISTRY_PORT, type Answer, type Request, type ServiceAddress } from './wire.ts'

/** registryServer() options. */
export interface RegistryServerOptions {
  /** Default '127.0.0.1' (give '0.0.0.0' to serve a network). */
  host?: string
  /** Default 18811; 0 picks a free port (the same number for TCP and UDP). */
  port?: number
  /** A registration not refreshed for this long is dropped, in ms. Default 60 000. */
  expiry?: number
  /** Registrations held at most; more are refused until some expire. Default 4096. */
  maxEntries?: number
  /** TCP clients at once; more are turned away. Default 64. */
  maxConnections?: number
}

/** A running registry: `address`, `services()` (what it holds now) and `close()`. */
export interface RegistryServer {
  readonly address: { host: string; port: number }
  /** The live registrations, by name. */
  services(): Record<string, ServiceAddress[]>
  /** Stops both sockets; idempotent. */
  close(): Promise<void>
}

/** A TCP client may stay this long without sending a whole request. */
const IDLE_MS = 10_000

/**
 * Starts a registry on `host:port` over TCP and UDP. Resolves once both listen; rejects with the
 * bind error (EADDRINUSE, ...). Requests are one JSON object (see wire.ts): over UDP one per
 * datagram, answered to its sender; over TCP one per line. A registering server's host is the one
 * it names if that is a specific IP address, else the address its request came from.
 */
export async function registryServer(options: RegistryServerOptions = {}): Promise<RegistryServer> {
  const { host = '127.0.0.1', port = REGISTRY_PORT, expiry = 60_000, maxEntries = 4096, maxConnections = 64, ...rest } = options
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new TypeError(`unknown registryServer() option '${unknown}' (known: host, port, expiry, maxEntries, maxConnections)`)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('options.port must be an integer from 0 to 65535')
  for (const [k, v] of Object.entries({ expiry, maxEntries, maxConnections })) {
    if (typeof v !== 'number' || !(v > 0)) throw new TypeError(`options.${k} must be a positive number`)
  }
  const table = new Table(expiry, maxEntries)
  const { tcp, udp, bound } = await bind(host, port)
  const sockets = new Set<net.Socket>()
  tcp.on('connection', (socket) => {
    if (sockets.size >= maxConnections) return void socket.destroy()
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.setTimeout(IDLE_MS, () => socket.destroy())
    let buffered = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk])
      let nl: number
      while ((nl = buffered.indexOf(10)) !== -1) {
        const line = buffered.subarray(0, nl)
        buffered = buffered.subarray(nl + 1)
        const req = decodeRequest(line)
        // a client that does not speak the registry's language gets nothing more from it
        if (req === undefined) return void socket.destroy()
        socket.write(Buffer.concat([encodeAnswer(table.handle(req, socket.remoteAddress ?? '')), Buffer.from('\n')]))
      }
      if (buffered.length > MAX_MESSAGE) socket.destroy()
    })
  })
  udp.on('message', (msg, from) => {
    const req = decodeRequest(msg)
    if (req === undefined) return
    udp.send(encodeAnswer(table.handle(req, from.address)), from.port, from.address)
  })
  let closing: Promise<void> | undefined
  return {
    address: bound,
    services: () => table.snapshot(),
    close: () => (closing ??= new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy()
      udp.close()
      tcp.close(() => resolve())
    })),
  }
}

/** TCP and UDP on one port; with port 0, TCP picks one and UDP takes the same (a few tries). */
async function bind(host: string, port: number): Promise<{ tcp: net.Server; udp: dgram.Socket; bound: { host: string; port: number } }> {
  for (let attempt = 0; ; attempt++) {
    const tcp = net.createServer()
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(port, host, () => {
        tcp.off('error', reject)
        resolve()
      })
    })
    const where = tcp.address() as net.AddressInfo
    const udp = dgram.createSocket(net.isIPv6(where.address) ? 'udp6' : 'udp4')
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject)
        udp.bind(where.port, host, () => {
          udp.off('error', reject)
          resolve()
        })
      })
    } catch (err) {
      tcp.close()
      udp.close()
      if (port === 0 && attempt < 5) continue
      throw err
    }
    udp.on('error', () => {})
    return { tcp, udp, bound: { host: where.address, port: where.port } }
  }
}

/** name -> "host port" -> last refresh time; bounded, pruned as it is read. */
class Table {
  #services = new Map<string, Map<string, number>>()
  #count = 0
  #expiry: number
  #max: number

  constructor(expiry: number, max: number) {
    this.#expiry = expiry
    this.#max = max
  }

  handle(req: Request, from: string): Answer {
    if (req.op === 'query') return { ok: true, servers: this.#live(req.name).slice(0, MAX_ANSWER) }
    const key = `${advertised(req.host, from)} ${req.port}`
    const entries = this.#services.get(req.name)
    if (req.op === 'unregister') {
      if (entries?.delete(key)) this.#count--
      if (entries?.size === 0) this.#services.delete(req.name)
      return { ok: true }
    }
    if (!entries?.has(key)) {
      if (this.#count >= this.#max) this.#prune()
      if (this.#count >= this.#max) return { ok: false, error: `the registry is full (${this.#max} registrations)` }
      this.#count++
    }
    const map = entries ?? new Map<string, number>()
    this.#services.set(req.name, map)
    // re-inserted so that the map stays in order of refresh, oldest first
    map.delete(key)
    map.set(key, Date.now())
    return { ok: true, expiry: this.#expiry }
  }

  snapshot(): Record<string, ServiceAddress[]> {
    this.#prune()
    return Object.fromEntries([...this.#services.keys()].map((name) => [name, this.#live(name)]))
  }

  /** The servers of `name` still fresh, the most recently refreshed first. */
  #live(name: string): ServiceAddress[] {
    const entries = this.#services.get(name)
    if (entries === undefined) return []
    const oldest = Date.now() - this.#expiry
    for (const [key, t] of entries) {
      if (t >= oldest) break
      entries.delete(key)
      this.#count--
    }
    if (entries.size === 0) this.#services.delete(name)
    return [...entries.keys()].reverse().map((key) => {
      const [host, port] = key.split(' ')
      return { host: host!, port: Number(port) }
    })
  }

  #prune(): void {
    for (const name of [...this.#services.keys()]) this.#live(name)
  }
}

/** The host a registration stands for: the one named, if a specific IP address, else the sender. */
function advertised(named: string | undefined, from: string): string {
  const sender = from.startsWith('::ffff:') ? from.slice(7) : from
  if (named === undefined || net.isIP(named) === 0 || named === '0.0.0.0' || named === '::') return sender
  return named
}
