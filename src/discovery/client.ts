// The registry's clients: discover() asks which servers offer a name; Registrar keeps one
// server's registration fresh for listen(). One request/answer exchange over TCP or UDP.
import * as dgram from 'node:dgram'
import * as net from 'node:net'
import { DiscoveryError } from '../errors.ts'
import { checkName, decodeAnswer, encodeRequest, MAX_MESSAGE, REGISTRY_PORT, type Answer, type RegistryAddress, type Request, type ServiceAddress } from './wire.ts'

const DEFAULT_TIMEOUT = 2000
const UDP_TRIES = 3

/** Throws TypeError unless `r` is a usable registry address. */
export function checkRegistry(r: unknown): asserts r is RegistryAddress {
  if (r === null || typeof r !== 'object') throw new TypeError('options.registry must be { host, port } (the registry to ask)')
  const { host, port, protocol, timeout, ...rest } = r as RegistryAddress
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new TypeError(`unknown registry option '${unknown}' (known: host, port, protocol, timeout)`)
  if (host !== undefined && (typeof host !== 'string' || host === '')) throw new TypeError('options.registry.host must be a non-empty string')
  if (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new TypeError('options.registry.port must be an integer from 1 to 65535')
  if (protocol !== undefined && protocol !== 'tcp' && protocol !== 'udp') throw new TypeError("options.registry.protocol must be 'tcp' or 'udp'")
  if (timeout !== undefined && (typeof timeout !== 'number' || !(timeout > 0))) throw new TypeError('options.registry.timeout must be a positive number of ms')
}

const where = (r: RegistryAddress) => `${r.host ?? '127.0.0.1'}:${r.port ?? REGISTRY_PORT}`

/**
 * Sends one request to the registry and resolves with its answer. Rejects with DiscoveryError
 * when the registry cannot be reached (refused, no answer within `timeout`) or answers nonsense.
 */
export async function ask(registry: RegistryAddress, req: Request): Promise<Answer> {
  const host = registry.host ?? '127.0.0.1'
  const port = registry.port ?? REGISTRY_PORT
  const timeout = registry.timeout ?? DEFAULT_TIMEOUT
  try {
    const bytes = registry.protocol === 'udp' ? await overUdp(host, port, encodeRequest(req), timeout) : await overTcp(host, port, encodeRequest(req), timeout)
    return decodeAnswer(bytes)
  } catch (err) {
    const msg = (err as Error).message
    throw new DiscoveryError(`the registry at ${where(registry)} (${registry.protocol ?? 'tcp'}) did not answer: ${msg}; is \`farside registry\` running there?`, { cause: err })
  }
}

function overTcp(host: string, port: number, request: Buffer, timeout: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host)
    let got = Buffer.alloc(0)
    const done = (err: Error | undefined, bytes?: Buffer) => {
      socket.destroy()
      if (err) reject(err)
      else resolve(bytes!)
    }
    socket.setTimeout(timeout, () => done(new Error(`no answer within ${timeout} ms`)))
    socket.on('error', (err) => done(err))
    socket.on('connect', () => socket.write(Buffer.concat([request, Buffer.from('\n')])))
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk])
      const nl = got.indexOf(10)
      if (nl !== -1) done(undefined, got.subarray(0, nl))
      else if (got.length > MAX_MESSAGE) done(new Error('the answer is too long'))
    })
    socket.on('end', () => done(new Error('the registry closed the connection without an answer')))
  })
}

function overUdp(host: string, port: number, request: Buffer, timeout: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4')
    let timer: ReturnType<typeof setTimeout> | undefined
    let tries = 0
    const done = (err: Error | undefined, bytes?: Buffer) => {
      clearTimeout(timer)
      socket.close()
      if (err) reject(err)
      else resolve(bytes!)
    }
    // a datagram may be lost: send again, up to UDP_TRIES times within the timeout
    const send = () => {
      if (tries++ === UDP_TRIES) return done(new Error(`no answer within ${timeout} ms`))
      socket.send(request)
      timer = setTimeout(send, timeout / UDP_TRIES)
    }
    // connected: only the registry's answers arrive, and a closed port is ECONNREFUSED at once
    socket.on('error', (err) => done(err))
    socket.on('message', (msg) => done(undefined, msg))
    socket.connect(port, host, send)
  })
}

/**
 * The servers registered under `name` at `options.registry`, the most recently refreshed first
 * (an empty list when none is). Rejects with TypeError for a bad name or registry address, and
 * DiscoveryError when the registry cannot be reached or refuses.
 */
export async function discover(name: string, options: { registry: RegistryAddress }): Promise<ServiceAddress[]> {
  checkName(name)
  checkRegistry(options?.registry)
  const answer = await ask(options.registry, { op: 'query', name })
  if (!answer.ok) throw new DiscoveryError(`the registry at ${where(options.registry)} refused: ${answer.error}`)
  return (answer.servers ?? []).filter((s) => typeof s?.host === 'string' && Number.isInteger(s?.port))
}

/**
 * One server's registration: register() once (rejects as ask() does, or when refused), then
 * refreshed every third of the registry's expiry (or `refresh` ms) until stop(), which
 * unregisters (best effort). A failed refresh is reported to `onError` and tried again later.
 */
export class Registrar {
  #registry: RegistryAddress
  #req: { name: string; port: number; host?: string }
  #refresh: number | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #stopped = false
  #inflight: Promise<unknown> | undefined
  #onError: (err: unknown) => void

  constructor(registry: RegistryAddress, req: { name: string; port: number; host?: string }, onError: (err: unknown) => void, refresh?: number) {
    this.#registry = registry
    this.#req = req
    this.#onError = onError
    this.#refresh = refresh
  }

  /** Registers and starts refreshing; rejects if the first registration fails. */
  async start(): Promise<void> {
    this.#schedule(await this.#register())
  }

  async #register(): Promise<number> {
    const answer = await ask(this.#registry, { op: 'register', ...this.#req })
    if (!answer.ok) throw new DiscoveryError(`the registry at ${where(this.#registry)} refused to register '${this.#req.name}': ${answer.error}`)
    return this.#refresh ?? Math.max(100, (answer.expiry ?? 60_000) / 3)
  }

  #schedule(ms: number): void {
    if (this.#stopped) return
    this.#timer = setTimeout(() => {
      this.#inflight = this.#register().then((next) => this.#schedule(next), (err) => {
        this.#onError(err)
        this.#schedule(this.#refresh ?? 5000)
      })
    }, ms)
    // a registration alone must not keep a process alive
    this.#timer.unref()
  }

  /** Stops refreshing and unregisters; never rejects. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    clearTimeout(this.#timer)
    // a refresh on the way would otherwise land after the unregister and linger until expiry
    await this.#inflight
    await ask(this.#registry, { op: 'unregister', ...this.#req }).catch(() => {})
  }
}
