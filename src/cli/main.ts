#!/usr/bin/env node
// The `farside` command. For now it reports its version and protocol and lists what is coming;
// serve, repl, bench and registry arrive with the CLI issue. Uses the public package only.
import { createRequire } from 'node:module'
import { PROTOCOL_VERSION } from '../index.ts'

const require = createRequire(import.meta.url)
const { version } = require('../package.json') as { version: string }

const usage = `farside ${version} (protocol ${PROTOCOL_VERSION})

usage: farside --version | --help

The serve, repl, bench and registry commands are not in this version yet.`

const [command] = process.argv.slice(2)
if (command === 'bench') {
  const { benchCommand } = await import('./bench/command.ts')
  process.exitCode = await benchCommand(process.argv.slice(3))
} else if (command === '--version' || command === '-v') {
  console.log(version)
} else if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
  console.log(usage)
} else {
  console.error(`farside: unknown command '${command}'\n\n${usage}`)
  process.exitCode = 2
}
