// connectByService(): discovery and connect() in one step (RPyC's rpyc.connect_by_service).
import { connect, type NetOptions } from './listen.ts'
import { discover } from '../discovery/client.ts'
import { DiscoveryError } from '../errors.ts'
import type { RegistryAddress } from '../discovery/wire.ts'
import type { Connection } from '../protocol/connection.ts'

/** connectByService() options: the registry to ask, and connect()'s options. */
export interface ServiceConnectOptions extends Omit<NetOptions, 'registry'> {
  registry: RegistryAddress
}

/**
 * Asks `options.registry` for the servers of `name` and connects to the first that answers,
 * trying them freshest first. Rejects with DiscoveryError when the registry cannot be reached or
 * knows no server for `name`, and with the last server's error (ConnectionClosedError, or an
 * AuthenticationError, which is not tried further) when none of them can be reached.
 */
export async function connectByService<T = unknown>(name: string, options: ServiceConnectOptions): Promise<Connection<T>> {
  const { registry, ...connectOptions } = options ?? ({} as ServiceConnectOptions)
  const servers = await discover(name, { registry })
  if (servers.length === 0) {
    throw new DiscoveryError(`no server is registered as '${name}' at the registry ${registry.host ?? '127.0.0.1'}:${registry.port ?? 18811} (is it running with --service ${name}?)`)
  }
  let last: unknown
  for (const server of servers) {
    try {
      return await connect<T>(server, connectOptions)
    } catch (err) {
      // a wrong secret is wrong for every server of the service: say it, do not hide it
      if ((err as { code?: unknown })?.code === 'ERR_AUTHENTICATION' || err instanceof TypeError) throw err
      last = err
    }
  }
  throw last
}
