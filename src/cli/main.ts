#!/usr/bin/env node
// The `farside` command: routes a subcommand to its module, prints usage, maps failures to the
// documented exit codes (0 done, 1 failed, 2 wrong command line). Uses the public package only.
import { createRequire } from 'node:module'
import { PROTOCOL_VERSION } from '../index.ts'
import { CommandError, EXIT, UsageError, parse, type Command } from './args.ts'
import { serve } from './serve.ts'
import { repl } from './repl.ts'
import { registry } from './registry.ts'

const require = createRequire(import.meta.url)
const { version } = require('../package.json') as { version: string }

const usage = `farside ${version} (protocol ${PROTOCOL_VERSION})

usage: farside <command> [options]     farside <command> --help for its options

  serve      serve a module's default export (or classic mode) over TCP, TLS or a Unix socket
  repl       a Node REPL on a farside server (conn and root bound)
  bench      benchmark the transports against each other
  registry   the discovery registry servers register with (--service) and clients ask
  --version  print the version

Exit codes: 0 done (or stopped by SIGINT/SIGTERM), 1 the work failed, 2 the command line is wrong.`

const commands: Record<string, Command> = { serve, repl, registry }

/** `farside bench`: loaded only when asked for (it is the largest command), a chunk of the build. */
async function bench(argv: string[]): Promise<number> {
  const { benchCommand } = await import('./bench/command.ts')
  return benchCommand(argv)
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--version' || name === '-v') {
    console.log(version)
    return EXIT.ok
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage)
    return EXIT.ok
  }
  if (name === 'bench') return bench(rest)
  const command = commands[name]
  if (command === undefined) {
    console.error(`farside: unknown command '${name}'\n\n${usage}`)
    return EXIT.usage
  }
  try {
    const { values, positionals } = parse(command, rest)
    if (values.help === true) {
      console.log(command.usage)
      return EXIT.ok
    }
    return await command.run(values, positionals)
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`farside ${name}: ${err.message}\n\n${command.usage}`)
      return EXIT.usage
    }
    if (err instanceof CommandError) {
      console.error(`farside ${name}: ${err.message}`)
      return EXIT.failed
    }
    throw err
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
  // a command that is done is done: a lingering handle (a socket half closed) must not hold it
  setImmediate(() => process.exit(code))
}, (err: unknown) => {
  console.error(err)
  process.exit(EXIT.failed)
})
