// For tests of the built package (dist/): builds it first when it is missing or older than a
// source file, so `node test/run.mjs cli.dist` alone tests what the sources say. Run by `npm run test:dist`.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Remote } from '../../src/index.ts'

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const dist = join(root, 'dist')
export const cli = join(dist, 'cli.js')

function newest(dir: string): number {
  return Math.max(0, ...readdirSync(dir).map((name) => {
    const path = join(dir, name)
    const s = statSync(path)
    return s.isDirectory() ? newest(path) : s.mtimeMs
  }))
}

let checked = false
/** Builds dist/ unless it is newer than every file in src/ and the rollup config. */
export function ensureBuilt(): void {
  if (checked) return
  checked = true
  const built = existsSync(cli) ? statSync(cli).mtimeMs : 0
  if (built > Math.max(newest(join(root, 'src')), statSync(join(root, 'rollup.config.mjs')).mtimeMs)) return
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
}

/** What test/fixtures/served.mjs serves. */
export interface Served {
  where(): { pid: number; thread: number }
  add(a: number, b: number): number
  spin(ms: number): string
  crash(): string
}

/** A connection's root, typed as the served module (whatever the connection's own type). */
export const served = (conn: { root: unknown }) => conn.root as Remote<Served>
