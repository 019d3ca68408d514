// `farside repl`: a Node REPL on a farside connection (conn, root and the helpers bound), or
// with --classic one whose every line runs on the peer (RPyC's interact()).
import * as nodeRepl from 'node:repl'
import { inspect, types } from 'node:util'
import * as farside from '../index.ts'
import { connect, connectByService, isRemote, keys, redirectStdio, type Connection, type NetOptions } from '../index.ts'
import { CommandError, EXIT, UsageError, hostPort, readFlagFile, secretFrom, type Command } from './args.ts'

export const repl: Command = {
  usage: `usage: farside repl HOST:PORT | --unix PATH | --service NAME --registry HOST:PORT
                    [--secret-file F] [--user NAME] [--tls] [--tls-ca F] [--classic]

A Node REPL connected to a farside server: \`conn\` is the connection, \`root\` the server's root,
and farside's helpers (keys, obtain, release, isRemote, ...) are at hand. Top-level await
works: \`await root.add(1, 2)\`; Tab completes a remote object's keys. With --classic (against
\`farside serve --classic\`) each line is evaluated on the server and its console output shows
here. Exits when the input ends (code 0), or when the server goes away (code 1).

  --unix PATH          connect to a Unix socket
  --service NAME       find the server by name at the registry given by --registry
  --registry HOST:PORT a registry started by \`farside registry\`
  --secret-file F      prove this shared secret (the file's text)
  --user NAME          with --secret-file: the user the secret is for (servers with users)
  --tls                connect over TLS (the server's certificate checked as usual)
  --tls-ca F           with --tls: trust this CA or self-signed certificate (PEM)
  --classic            evaluate each line on the server`,
  options: {
    unix: { type: 'string' },
    service: { type: 'string' },
    registry: { type: 'string' },
    'secret-file': { type: 'string' },
    user: { type: 'string' },
    tls: { type: 'boolean' },
    'tls-ca': { type: 'string' },
    classic: { type: 'boolean' },
  },
  positionals: true,
  async run(v, positionals) {
    const ways = [positionals.length > 0, v.unix !== undefined, v.service !== undefined].filter(Boolean).length
    if (ways !== 1 || positionals.length > 1) throw new UsageError('repl needs one of HOST:PORT, --unix PATH or --service NAME --registry HOST:PORT')
    if ((v.service === undefined) !== (v.registry === undefined)) throw new UsageError('--service and --registry go together')
    if (v['tls-ca'] !== undefined && v.tls !== true) throw new UsageError('--tls-ca needs --tls')
    if (v.user !== undefined && v['secret-file'] === undefined) throw new UsageError('--user needs --secret-file')
    const options: NetOptions = {}
    const secret = secretFrom(v['secret-file'])
    if (secret !== undefined) options.secret = secret
    if (v.user !== undefined) options.user = v.user as string
    if (v.tls === true) options.tls = v['tls-ca'] !== undefined ? { ca: readFlagFile('tls-ca', v['tls-ca'] as string) } : {}
    const registry = v.registry !== undefined ? hostPort('--registry', v.registry as string) : undefined
    const address = v.unix !== undefined ? { path: v.unix as string } : positionals[0] !== undefined ? hostPort('the address', positionals[0]) : undefined
    let conn: Connection
    try {
      if (registry !== undefined) conn = await connectByService(v.service as string, { ...options, registry })
      else conn = await connect(address!, options)
    } catch (err) {
      throw new CommandError((err as Error).message)
    }
    return v.classic === true ? classic(conn) : interactive(conn)
  },
}

/** Shows Remotes as what they are: a short tag, never the proxy's insides. */
function readable(v: unknown, depth = 0): unknown {
  if (isRemote(v)) {
    const pending = typeof (v as { then?: unknown }).then === 'function'
    return { [inspect.custom]: () => (pending ? '[RemotePromise: await it for its value]' : '[Remote]') }
  }
  if (v === null || typeof v !== 'object' || depth > 5) return v
  if (Array.isArray(v)) return v.map((x) => readable(x, depth + 1))
  if (types.isMap(v)) return new Map([...(v as Map<unknown, unknown>)].map(([k, x]) => [readable(k, depth + 1), readable(x, depth + 1)]))
  if (types.isSet(v)) return new Set([...(v as Set<unknown>)].map((x) => readable(x, depth + 1)))
  // plain objects of any realm (the REPL's context is one of its own)
  const proto = Object.getPrototypeOf(v)
  if (proto !== null && Object.getPrototypeOf(proto) !== null) return v
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, readable(x, depth + 1)]))
}

function start(conn: Connection, options: nodeRepl.ReplOptions): { server: nodeRepl.REPLServer; done: Promise<number> } {
  const colors = process.stdout.isTTY === true
  const server = nodeRepl.start({ prompt: 'farside> ', preview: false, writer: (v) => inspect(readable(v), { colors, depth: 4 }), ...options })
  // one line at a time: piped input must not run line 2 while line 1 still awaits its answer
  const evaluate = server.eval.bind(server)
  let queue = Promise.resolve()
  let current: (() => void) | undefined
  // an awaited line that rejects goes to the REPL's domain, never to the callback
  // (node lib/repl.js, processTopLevelAwait): that too ends the line
  ;(server as unknown as { _domain?: { on?(e: 'error', f: () => void): void } })._domain?.on?.('error', () => current?.())
  ;(server as { eval: nodeRepl.REPLEval }).eval = (cmd, context, file, cb) => {
    queue = queue.then(() => new Promise<void>((next) => {
      current = next
      evaluate(cmd, context, file, (err, value) => {
        // the callback rethrows an error into the domain (to print it): go on regardless
        try {
          cb(err, value)
        } finally {
          next()
        }
      })
    }))
  }
  const done = new Promise<number>((resolve) => {
    let leaving = false
    server.on('exit', () => {
      // the input ended: the lines still waiting for answers get them first
      void queue.then(() => {
        leaving = true
        return conn.close()
      }).then(() => resolve(EXIT.ok))
    })
    void conn.closed.then((info) => {
      if (leaving) return
      const why = info.error instanceof Error ? `: ${info.error.message}` : ''
      process.stderr.write(`\nfarside: the connection closed (${info.reason === 'peer' ? 'the server went away' : info.reason})${why}\n`)
      leaving = true
      server.close()
      resolve(EXIT.failed)
    })
  })
  return { server, done }
}

/** The REPL with `conn`, `root` and the helpers, completing remote keys. */
function interactive(conn: Connection): Promise<number> {
  const { server, done } = start(conn, {})
  Object.assign(server.context, { ...farside, conn, root: conn.root })
  const original = server.completer.bind(server) as (line: string, cb: (err: Error | null, r: [string[], string]) => void) => void
  ;(server as { completer: unknown }).completer = (line: string, cb: (err: Error | null, r: [string[], string]) => void) => {
    const m = /(?:^|[^\w$.])([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\.([\w$]*)$/.exec(line)
    const target = m ? walk(server.context, m[1]!.split('.')) : undefined
    if (!m || !isRemote(target)) return original(line, cb)
    const timeout = new Promise<string[]>((r) => setTimeout(() => r([]), 2000).unref())
    Promise.race([keys(target), timeout]).then(
      (names) => cb(null, [names.filter((k) => k.startsWith(m[2]!)).map((k) => `${m[1]}.${k}`), `${m[1]}.${m[2]}`]),
      () => cb(null, [[], line]),
    )
  }
  return done
}

/** Reads `path` from `scope` as the line would: a Remote's members are pipelined reads. */
function walk(scope: Record<string, unknown>, path: string[]): unknown {
  let at: unknown = scope
  for (const name of path) {
    if (at === null || (typeof at !== 'object' && typeof at !== 'function')) return undefined
    if (!isRemote(at) && at !== scope) return undefined
    at = (at as Record<string, unknown>)[name]
  }
  return at
}

/** Each line evaluated on the peer (an expression, else statements); its output shown here. */
async function classic(conn: Connection): Promise<number> {
  try {
    await conn.eval('0')
  } catch (err) {
    await conn.close()
    throw new CommandError(`the server does not serve classic mode (start it with \`farside serve --classic\`): ${(err as Error).message}`)
  }
  await redirectStdio(conn)
  return start(conn, {
    prompt: 'farside (classic)> ',
    ignoreUndefined: true,
    completer: (line: string) => [[], line],
    eval: (cmd, _context, _file, cb) => {
      const code = cmd.trim()
      if (code === '') return cb(null, undefined)
      conn.eval(code).then((v) => cb(null, v), (err: Error) => {
        if (err?.name !== 'SyntaxError') return cb(err, undefined)
        conn.execute(code).then(() => cb(null, undefined), (e: Error) => cb(e, undefined))
      })
    },
  }).done
}
