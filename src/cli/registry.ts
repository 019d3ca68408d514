// `farside registry`: the discovery registry (RPyC's rpyc_registry) over TCP and UDP.
import { registryServer } from '../index.ts'
import { CommandError, intFlag, say, serveUntilSignal, listenFlags, type Command } from './args.ts'

export const registry: Command = {
  usage: `usage: farside registry [--port N] [--host H] [--expiry MS] [--json]

Runs a discovery registry on TCP and UDP port N: servers started with --service NAME
--registry HOST:PORT register there; clients find them with discover() / connectByService().
Prints one line saying where it listens (JSON with --json); runs until SIGINT/SIGTERM.

  --port N      TCP and UDP port (default 18811; 0 picks a free one)
  --host H      address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --expiry MS   drop a server that has not refreshed for this long (default 60000)
  --json        print the listening line as JSON`,
  options: {
    ...listenFlags,
    expiry: { type: 'string' },
  },
  async run(v) {
    const json = v.json === true
    const port = intFlag('port', v.port, 0, 65535) ?? 18811
    const expiry = intFlag('expiry', v.expiry, 1, 2 ** 31 - 1) ?? 60_000
    let server
    try {
      server = await registryServer({ host: (v.host as string | undefined) ?? '127.0.0.1', port, expiry })
    } catch (err) {
      const e = err as { code?: string; message: string }
      throw new CommandError(e.code === 'EADDRINUSE' ? `port ${port} is in use (another registry there? pick another --port)` : e.message)
    }
    const { host, port: bound } = server.address
    say(json, `farside: registry on ${host}:${bound} (tcp and udp)`, { event: 'listening', host, port: bound, pid: process.pid, expiry })
    return serveUntilSignal(json, () => server.close())
  },
}
