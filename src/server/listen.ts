// TCP, Unix-socket and TLS servers and clients. Every connection of one server shares one
// registry. Built on the public core only (connectStream, Connection, Registry).
import * as net from 'node:net'
import * as tls from 'node:tls'
import { EventEmitter } from 'node:events'
import { connectStream, turnAway } from '../endpoints/stream.ts'
import { handshake } from '../endpoints/handshake.ts'
import { Registry } from '../protocol/registry.ts'
import { ConnectionClosedError, ProtocolError } from '../errors.ts'
import { Connection, DEFAULT_LIMITS, ROOT_FACTORY, type ServeOptions } from '../protocol/connection.ts'
import type { ConnectionOptions } from '../types.ts'
import type { Duplex } from 'node:stream'
import { isolatorOf, moduleHref, type Isolate } from './isolate.ts'
import { loadRoot } from './isolate-entry.ts'
import { Registrar, checkRegistry } from '../discovery/client.ts'
import { checkName, type RegistryAddress } from '../discovery/wire.ts'

/** Where to listen or connect: a TCP host and port, or a Unix socket path. */
export type Address = { host?: string; port: number } | { path: string }

export interface NetOptions extends ConnectionOptions {
  /** node:tls options; with them the socket is TLS (server: key and cert; client: ca, ...). */
  tls?: tls.TlsOptions & tls.ConnectionOptions
}

export interface ListenOptions extends Omit<NetOptions, 'registry'> {
  /**
   * The Registry of names every connection shares (made if not given); or, with `service`, the
   * discovery registry `{ host, port }` to register with (see `service`).
   */
  registry?: Registry | RegistryAddress
  /**
   * Registers this server under the name at `registry` (a discovery registry: `farside
   * registry`), refreshed periodically and unregistered on close(); listen() rejects with
   * DiscoveryError if the first registration fails. TCP servers only.
   */
  service?: string
  /**
   * RPyC's ForkingServer: each connection gets a child process ('process': the socket is handed
   * over IPC) or a worker thread ('worker': the bytes are relayed) that imports `module` and
   * serves its default export; the isolate ends with its connection. Needs `module`; options
   * must then be plain data (no root, authenticate, or secret/user lookup functions).
   */
  isolate?: 'process' | 'worker'
  /**
   * A module (path from the working directory, or URL) whose default export is the root (an
   * object, or a factory `(conn) => object`): loaded here, or in each isolate with `isolate`.
   * listen() rejects with an Error naming it if it cannot be loaded or exports no default.
   */
  module?: string | URL
  /**
   * RPyC's authenticator: gets each new socket before the protocol starts and returns it (or a
   * wrapped one), or throws / rejects to refuse the client (the socket is destroyed).
   */
  authenticate?: (socket: net.Socket) => net.Socket | Promise<net.Socket>
  /**
   * Per-user secrets (RPyC's tls_connect username/password): a client connects with
   * `{ user, secret }` and must prove that user's secret; an unknown user fails exactly as a wrong
   * secret does. A map of user names to secrets, or a lookup (undefined or a throw refuses). A
   * client without a user name needs `secret` (if given); with `users` alone it is refused.
   */
  users?: Readonly<Record<string, string | Uint8Array>> | ((user: string) => string | Uint8Array | undefined | Promise<string | Uint8Array | undefined>)
  /**
   * The object served to every client, or a factory `(conn) => object` called for each connection
   * once it is authenticated (it may read `conn.peerUser`), before anything is served. A function
   * here is always taken for a factory: to serve a function itself, return it from one.
   */
  root?: object | ((conn: Connection) => object)
}

/** A farside server: `listen()` makes one. Emits 'connection' (conn) and 'error' (err). */
export class Server extends EventEmitter {
  /** `{ host, port }` for TCP, `{ path }` for a Unix socket. */
  readonly address: { host: string; port: number } | { path: string }
  /** Names every client can fetch; what one client attaches, another can fetch. */
  readonly registry: Registry
  /** The open connections. */
  readonly connections = new Set<Connection>()
  #server: net.Server
  #closing: Promise<void> | undefined
  /** Sockets accepted and not yet connections (authenticating). */
  readonly pending = new Set<net.Socket>()
  /** With `isolate`: the child processes or worker threads, one per client (and a spare). */
  readonly isolates: ReadonlySet<Isolate>
  /** @internal run by close() once the listener stops, with the connections' closes */
  readonly onClose: Array<() => Promise<void>> = []
  /**
   * @internal whether close() waits for net.Server's close callback. Not with process isolates:
   * Node tracks sockets sent to children and, once several children have come and gone, its
   * callback was seen never to come (Node 20.20), although the listener is closed at once and
   * every child has ended when onClose is done.
   */
  drainOnClose = true

  /** @internal use listen() */
  constructor(server: net.Server, address: Server['address'], registry: Registry, isolates: ReadonlySet<Isolate> = new Set()) {
    super()
    this.isolates = isolates
    this.#server = server
    this.address = address
    this.registry = registry
  }

  /** Whether close() was called. */
  get closing(): boolean {
    return this.#closing !== undefined
  }

  /** Stops accepting, closes every connection, and resolves once the server is down. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
      for (const socket of this.pending) socket.destroy()
      await Promise.all([...this.onClose.map((f) => f()), ...[...this.connections].map((c) => c.close())])
      if (this.drainOnClose) await closed
    })()
    return this.#closing
  }
}

/**
 * Listens on a TCP port or Unix socket and serves `options.root` to every client. All connections
 * share `server.registry`. Error stacks are not sent to clients unless `stacks: true`. A client
 * that breaks the protocol, fails `authenticate` or goes away closes only its own connection.
 * Resolves once listening; rejects with the listen error (EADDRINUSE, ...).
 */
export async function listen(address: Address, options: ListenOptions = {}): Promise<Server> {
  const { tls: tlsOptions, authenticate, service, isolate, module, ...rest } = options
  checkAddress(address)
  const discovery = service !== undefined ? checkService(service, rest.registry, address) : undefined
  if (discovery === undefined && rest.registry !== undefined && !(rest.registry instanceof Registry)) {
    throw new TypeError('options.registry must be a Registry; a discovery registry { host, port } needs options.service (the name to register)')
  }
  if (discovery !== undefined) delete rest.registry
  const isolator = isolate !== undefined ? isolatorOf(isolate, module, { ...rest, authenticate }, tlsOptions, serveOptions) : undefined
  if (module !== undefined && isolate === undefined) {
    if (rest.root !== undefined) throw new TypeError('options.module and options.root cannot be used together: the module\'s default export is the root')
    if (typeof module !== 'string' && !(module instanceof URL)) throw new TypeError('options.module must be a path or URL')
    rest.root = await loadRoot(moduleHref(module))
  }
  const connOptions = serveOptions(rest as NetOptions)
  const registry = connOptions.registry!
  if (authenticate !== undefined && typeof authenticate !== 'function') throw new TypeError('options.authenticate must be a function')
  const authTimeout = rest.limits?.handshakeTimeout ?? 30_000
  const maxConnections = rest.limits?.maxConnections ?? DEFAULT_LIMITS.maxConnections
  let server: Server | undefined
  const onSocket = (socket: net.Socket) => {
    if (!('path' in address)) socket.setNoDelay(true)
    void accept(socket)
  }
  const accept = async (accepted: net.Socket) => {
    let socket = accepted
    socket.on('error', () => {}) // errors before the connection takes the socket: nothing to tell
    if (server!.closing) return void socket.destroy()
    // with isolates, the spare is not a client
    const isolated = isolator !== undefined ? Math.max(0, isolator.live.size - 1) : 0
    if (server!.connections.size + server!.pending.size + isolated >= maxConnections) {
      // told, not just dropped: the client's error says why
      const reason = `the server is full (limits.maxConnections is ${maxConnections})`
      turnAway(socket, reason)
      server!.emit('refused', new ProtocolError(reason))
      return
    }
    server!.pending.add(socket)
    try {
      if (authenticate !== undefined) {
        let timer: ReturnType<typeof setTimeout> | undefined
        const given = await Promise.race([
          authenticate(socket),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`authenticate() did not finish within ${authTimeout} ms`)), authTimeout)
          }),
        ]).finally(() => clearTimeout(timer))
        if (!(given instanceof net.Socket)) throw new TypeError('authenticate() must return the socket (or a net.Socket wrapping it)')
        socket = given
      }
      if (server!.closing) throw new Error('the server is closing')
      if (isolator !== undefined) return await isolator.take(socket)
      const conn = connectStream(socket, connOptions)
      server!.connections.add(conn)
      void conn.closed.then(() => server!.connections.delete(conn))
      server!.emit('connection', conn)
    } catch (err) {
      socket.destroy()
      server!.emit('refused', err)
    } finally {
      // the socket accepted, not the one authenticate() may have wrapped it in
      server!.pending.delete(accepted)
    }
  }
  // a child process does TLS itself, on the socket handed to it unread
  const handOver = isolate === 'process'
  const raw = tlsOptions !== undefined && !handOver ? tls.createServer(tlsOptions, onSocket) : net.createServer({ pauseOnConnect: handOver }, onSocket)
  // a module that does not load fails here, before anything listens
  await isolator?.warm()
  await new Promise<void>((resolve, reject) => {
    raw.once('error', reject)
    const done = () => {
      raw.off('error', reject)
      resolve()
    }
    if ('path' in address) raw.listen(address.path, done)
    else raw.listen(address.port, address.host ?? '127.0.0.1', done)
  })
  raw.on('error', (err) => server!.emit('error', err))
  if (tlsOptions !== undefined && !handOver) raw.on('tlsClientError', (err) => server!.emit('refused', err))
  const bound = raw.address()
  server = new Server(raw, typeof bound === 'string' || bound === null ? { path: (address as { path: string }).path } : { host: bound.address, port: bound.port }, registry, isolator?.live)
  if (isolator !== undefined) server.onClose.push(() => isolator.close())
  if (handOver) server.drainOnClose = false
  if (discovery !== undefined) await register(server, service!, discovery)
  return server
}

/** Registers `server` under `name`; closes it and rethrows if the first registration fails. */
async function register(server: Server, name: string, registry: RegistryAddress): Promise<void> {
  const { host, port } = server.address as { host: string; port: number }
  // a wildcard address is no address to give out: the registry then takes the one it sees
  const named = host !== '0.0.0.0' && host !== '::' ? { host } : {}
  const registrar = new Registrar(registry, { name, port, ...named }, (err) => server.emit('registryError', err))
  server.onClose.unshift(() => registrar.stop())
  try {
    await registrar.start()
  } catch (err) {
    await server.close()
    throw err
  }
}

/**
 * Serves one client's stream (a socket your own server accepted, a relayed duplex) as listen()
 * serves each of its clients: `options` are listen()'s connection options (a Registry to share,
 * stacks hidden unless told, `root` or a factory `(conn) => root`, per-user secrets). Returns
 * the Connection at once, as connectStream() does; throws TypeError for a bad option. The
 * isolates of `listen({ isolate })` serve with it.
 */
export function serveStream(stream: Duplex, options: ListenOptions): Connection {
  return connectStream(stream, serveOptions(options as NetOptions))
}

/** listen()'s options as a connection's, validated (a TypeError names a bad key). */
function serveOptions(options: NetOptions & Pick<ListenOptions, 'users' | 'root'>): ServeOptions {
  const { registry: given, users, root, tls: _tls, ...rest } = options
  const registry = given ?? new Registry()
  const connOptions: ServeOptions = { ...rest, registry, stacks: rest.stacks ?? false }
  if (typeof root === 'function') connOptions[ROOT_FACTORY] = root as (conn: Connection) => object
  else if (root !== undefined) connOptions.root = root
  if (users !== undefined) connOptions.secret = userSecrets(users, rest.secret)
  // bad options fail here, not at the first client
  Connection.validate(connOptions, ['tls', 'authenticate', 'users'])
  return connOptions
}

function checkService(service: unknown, registry: unknown, address: Address): RegistryAddress {
  checkName(service)
  if ('path' in address) throw new TypeError('options.service needs a TCP address: a Unix socket cannot be found from other hosts')
  if (registry === undefined || registry instanceof Registry) throw new TypeError('options.service needs options.registry: the discovery registry { host, port } to register with')
  checkRegistry(registry)
  return registry
}

/**
 * Connects to a farside server over TCP, a Unix socket or TLS. Resolves once the handshake is
 * done. A refused or failed connection rejects with ConnectionClosedError whose cause is the
 * socket error (ECONNREFUSED, ENOENT, a TLS certificate error, ...).
 */
export async function connect<T = unknown>(address: Address, options: NetOptions = {}): Promise<Connection<T>> {
  const { tls: tlsOptions, ...connOptions } = options
  // before the socket opens: a bad option must not leave one behind
  Connection.validate(connOptions, ['tls'])
  checkAddress(address)
  const where = 'path' in address ? address.path : `${address.host ?? '127.0.0.1'}:${address.port}`
  const socket: net.Socket = tlsOptions !== undefined
    ? tls.connect({ ...tlsOptions, ...('path' in address ? { path: address.path } : { host: address.host ?? '127.0.0.1', port: address.port }) })
    : 'path' in address ? net.connect(address.path) : net.connect(address.port, address.host ?? '127.0.0.1')
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.once(tlsOptions !== undefined ? 'secureConnect' : 'connect', () => {
        socket.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    socket.destroy()
    // a TLS client that meets a plain farside server reads its HELLO as a broken TLS record
    const plainServer = tlsOptions !== undefined && /wrong version number|WRONG_VERSION_NUMBER/i.test(String((err as Error)?.message) + String((err as { code?: unknown })?.code))
    const hint = plainServer ? ': the server does not speak TLS (drop the `tls` option, or give the server one)' : ''
    throw new ConnectionClosedError({ reason: 'error', error: err }, `could not connect to ${where}: ${String((err as Error).message).trim()}${hint}`)
  }
  // no Nagle: a lone small frame (a release nobody answers) must not hold up the next call
  if (!('path' in address)) socket.setNoDelay(true)
  const conn = connectStream<T>(socket, connOptions).describe(tlsOptions !== undefined ? 'tls' : 'path' in address ? 'unix' : 'tcp', where)
  try {
    return await handshake(conn)
  } catch (err) {
    // a TLS server drops a plain client's first bytes without a word: say what that looks like
    if (tlsOptions === undefined && err instanceof ConnectionClosedError && err.reason === 'peer' && conn.stats().bytesIn === 0) {
      throw new ConnectionClosedError({ reason: 'peer', error: err }, `the server at ${where} closed the connection before a word of farside: is it a TLS server? (pass the \`tls\` option)`)
    }
    throw err
  }
}

/** listen()'s `users` (and `secret`, for clients that send no user name) as one secret lookup. */
function userSecrets(users: NonNullable<ListenOptions['users']>, shared: ConnectionOptions['secret']): NonNullable<ConnectionOptions['secret']> {
  if (typeof shared === 'function') throw new TypeError('options.secret must not be a function when options.users is given')
  let lookup: (user: string) => unknown
  if (typeof users === 'function') lookup = users
  else if (users !== null && typeof users === 'object') {
    // a Map, not the object: a user named `constructor` or `__proto__` must find nothing
    const table = new Map<string, string | Uint8Array>()
    for (const [name, secret] of Object.entries(users)) {
      const ok = typeof secret === 'string' ? secret.length > 0 : secret instanceof Uint8Array && secret.byteLength > 0
      if (!ok) throw new TypeError(`options.users[${JSON.stringify(name)}] must be a non-empty string, Buffer or Uint8Array`)
      table.set(name, secret)
    }
    lookup = (user) => table.get(user)
  } else throw new TypeError('options.users must be an object of user names to secrets, or a function')
  return (user) => (user === undefined ? shared : (lookup(user) as string | Uint8Array | undefined))
}

function checkAddress(a: Address): void {
  if (a === null || typeof a !== 'object') throw new TypeError('an address is { host, port } or { path }')
  if ('path' in a) {
    if (typeof a.path !== 'string' || a.path === '') throw new TypeError('a Unix socket path must be a non-empty string')
  } else if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) {
    throw new TypeError('a TCP port must be an integer from 0 to 65535')
  }
}
