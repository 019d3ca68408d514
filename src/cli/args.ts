// The command line's argument handling: node:util parseArgs with the messages and exit codes
// the README documents. A bad flag names the flag and shows the command's usage.
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { readFileSync } from 'node:fs'

/** Exit codes: 0 done (or stopped by a signal), 1 the work failed, 2 the command line is wrong. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const

/** A wrong command line: printed with the command's usage, exit code 2. */
export class UsageError extends Error {}

/** A failure worth one line and no stack: exit code 1. */
export class CommandError extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>
export type Values = Record<string, string | boolean | undefined>

/** One subcommand: its usage text, its flags, and what it does (resolving to an exit code). */
export interface Command {
  usage: string
  options: Options
  positionals?: boolean
  run(values: Values, positionals: string[]): Promise<number>
}

/**
 * Parses `argv` for `command`: resolves with the flags and positionals, or throws UsageError
 * naming the bad flag (unknown, missing its value, or given a value it does not take).
 */
export function parse(command: Command, argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' }, ...command.options }, allowPositionals: command.positionals ?? false, strict: true })
    return { values: values as Values, positionals }
  } catch (err) {
    const e = err as { code?: string; message: string }
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) {
      // parseArgs' own words name the flag; its advice about '--' fits no command of ours
      throw new UsageError(e.message.replace(/\. To specify a positional argument.*$/s, '').replace(/^Unknown option/, 'unknown option'))
    }
    throw err
  }
}

/** A whole number from `min` to `max`, from flag `name`; UsageError otherwise. */
export function intFlag(name: string, text: string | boolean | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined
  const n = Number(text)
  if (typeof text !== 'string' || !/^\d+$/.test(text) || n < min || n > max) throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not '${String(text)}'`)
  return n
}

/** `HOST:PORT` (or `:PORT`, `PORT`) as an address; UsageError naming `what` otherwise. */
export function hostPort(what: string, text: string): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(text)
  const port = m ? Number(m[2]) : NaN
  if (!m || !(port >= 1 && port <= 65535)) throw new UsageError(`${what} must be HOST:PORT (e.g. 127.0.0.1:18812), not '${text}'`)
  return { host: m[1] || '127.0.0.1', port }
}

/** The contents of the file a flag names; CommandError naming the flag if it cannot be read. */
export function readFlagFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path)
  } catch (err) {
    throw new CommandError(`--${flag}: cannot read '${path}': ${(err as Error).message}`)
  }
}

/** A secret from --secret-file: the file's text without its final line break; never empty. */
export function secretFrom(path: string | boolean | undefined): string | undefined {
  if (typeof path !== 'string') return undefined
  const secret = readFlagFile('secret-file', path).toString('utf8').replace(/\r?\n$/, '')
  if (secret === '') throw new CommandError(`--secret-file: '${path}' is empty (a secret must not be)`)
  return secret
}

/** The flags of the commands that listen: where, and how to say so. */
export const listenFlags: Options = { port: { type: 'string' }, host: { type: 'string' }, json: { type: 'boolean' } }

/**
 * Runs until SIGINT or SIGTERM, then `stop()`s (a second signal exits at once, code 1) and
 * resolves with exit code 0, having said so on stderr unless the output is JSON.
 */
export async function serveUntilSignal(json: boolean, stop: () => Promise<void>): Promise<number> {
  const signal = await untilSignal(stop)
  if (!json) console.error(`farside: ${signal}: stopped`)
  return EXIT.ok
}

/** Writes one line of output: JSON when `json`, else the text. */
export function say(json: boolean, text: string, data: Record<string, unknown>): void {
  process.stdout.write(`${json ? JSON.stringify(data) : text}\n`)
}

function untilSignal(stop: () => Promise<void>): Promise<string> {
  return new Promise((resolve) => {
    let stopping = false
    const on = (signal: NodeJS.Signals) => {
      if (stopping) process.exit(EXIT.failed)
      stopping = true
      void stop().finally(() => resolve(signal))
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}
