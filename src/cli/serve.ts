// `farside serve`: a module's default export (or classic mode) over TCP, TLS or a Unix socket,
// optionally one process or worker per client and registered for discovery.
import { listen, type ListenOptions } from '../index.ts'
import { CommandError, UsageError, hostPort, intFlag, readFlagFile, say, secretFrom, serveUntilSignal, listenFlags, type Command } from './args.ts'

export const serve: Command = {
  usage: `usage: farside serve [--port N] [--host H] [--unix PATH] (--module ./svc.js | --classic)
                     [--secret-file F] [--tls-cert F --tls-key F]
                     [--service NAME --registry HOST:PORT] [--isolate process|worker] [--json]

Serves the module's default export (an object, or a function (conn) => object called per
client) to every client; with --classic, classic mode (eval, execute, modules: trusted peers
only). Prints one line saying where it listens (JSON with --json) and runs until SIGINT/SIGTERM.

  --port N             TCP port (default 18812; 0 picks a free one)
  --host H             address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --unix PATH          listen on a Unix socket instead of TCP
  --module F           the module to serve (a path from here, or a file: URL)
  --classic            serve classic mode (with --module too: its default export is the root)
  --secret-file F      clients must prove this shared secret (the file's text)
  --tls-cert F, --tls-key F   serve TLS with this certificate and key (PEM)
  --service NAME       register as NAME with the discovery registry given by --registry
  --registry HOST:PORT a registry started by \`farside registry\`
  --isolate process|worker    one child process / worker thread per client (needs --module)
  --json               print the listening line as JSON`,
  options: {
    ...listenFlags,
    unix: { type: 'string' },
    module: { type: 'string' },
    classic: { type: 'boolean' },
    'secret-file': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    service: { type: 'string' },
    registry: { type: 'string' },
    isolate: { type: 'string' },
  },
  async run(v) {
    const json = v.json === true
    const module = v.module as string | undefined
    if (module === undefined && v.classic !== true) throw new UsageError('serve needs --module ./svc.js (what to serve) or --classic')
    if (v.unix !== undefined && (v.port !== undefined || v.host !== undefined)) throw new UsageError('--unix cannot be used with --port or --host')
    if ((v['tls-cert'] === undefined) !== (v['tls-key'] === undefined)) throw new UsageError('--tls-cert and --tls-key go together')
    if ((v.service === undefined) !== (v.registry === undefined)) throw new UsageError('--service and --registry go together')
    if (v.service !== undefined && v.unix !== undefined) throw new UsageError('--service needs a TCP server (not --unix)')
    const isolate = v.isolate as string | undefined
    if (isolate !== undefined && isolate !== 'process' && isolate !== 'worker') throw new UsageError(`--isolate must be 'process' or 'worker', not '${isolate}'`)
    if (isolate !== undefined && module === undefined) throw new UsageError('--isolate needs --module (each client gets its own copy of it)')
    const port = intFlag('port', v.port, 0, 65535) ?? 18812
    const address = v.unix !== undefined ? { path: v.unix as string } : { host: (v.host as string | undefined) ?? '127.0.0.1', port }
    const options: ListenOptions = {}
    if (v.classic === true) options.classic = true
    const secret = secretFrom(v['secret-file'])
    if (secret !== undefined) options.secret = secret
    if (v['tls-cert'] !== undefined) options.tls = { cert: readFlagFile('tls-cert', v['tls-cert'] as string), key: readFlagFile('tls-key', v['tls-key'] as string) }
    if (v.service !== undefined) {
      options.service = v.service as string
      options.registry = hostPort('--registry', v.registry as string)
    }
    if (module !== undefined) options.module = module
    if (isolate !== undefined) options.isolate = isolate as 'process' | 'worker'
    let server
    try {
      server = await listen(address, options)
    } catch (err) {
      throw new CommandError(describe(err, address))
    }
    server.on('error', (err: Error) => console.error(`farside serve: ${err.message}`))
    server.on('registryError', (err: Error) => console.error(`farside serve: ${err.message} (tried again later)`))
    const where = 'path' in server.address ? server.address.path : `${server.address.host}:${server.address.port}`
    const what = [module ?? 'classic mode', module !== undefined && v.classic ? '(classic)' : '', options.tls ? 'over TLS' : '', secret ? 'with a secret' : '',
      isolate ? `(a ${isolate} per client)` : '', v.service ? `as '${v.service}' at ${v.registry}` : ''].filter(Boolean).join(' ')
    say(json, `farside: serving ${what} on ${where}`, {
      event: 'listening', ...server.address, pid: process.pid, ...(module ? { module } : {}), classic: v.classic === true,
      tls: options.tls !== undefined, secret: secret !== undefined, ...(isolate ? { isolate } : {}), ...(v.service ? { service: v.service } : {}),
    })
    return serveUntilSignal(json, () => server.close())
  },
}

function describe(err: unknown, address: { path: string } | { host: string; port: number }): string {
  const e = err as { code?: string; message?: string }
  const where = 'path' in address ? address.path : `${address.host}:${address.port}`
  if (e?.code === 'EADDRINUSE') return `${where} is in use (another server there? pick another --port${'path' in address ? ' or remove the stale socket file' : ''})`
  if (e?.code === 'EACCES') return `not allowed to listen on ${where}`
  if (/cannot load the module|has no default export/.test(String(e?.message))) return `--module: ${e.message}`
  return String(e?.message ?? err)
}
