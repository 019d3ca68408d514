// The layers of STYLE.md, checked: each folder of src/ imports only from the layers it may use.
// Type-only imports are free (types and errors may be imported from anywhere).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../src')

/** Which layers (top folder, or file for the root files) each layer may import at run time. */
const allowed: Record<string, string[]> = {
  'errors.ts': [],
  'types.ts': [],
  'index.ts': ['*'],
  codec: ['codec', 'errors.ts'],
  transport: ['transport', 'errors.ts'],
  proxy: ['proxy'],
  protocol: ['protocol', 'codec', 'proxy', 'errors.ts'],
  helpers: ['helpers', 'proxy'],
  endpoints: ['endpoints', 'protocol', 'transport', 'errors.ts'],
  // on top: the public core only (connections made by endpoints, the Connection and Registry)
  server: ['server', 'endpoints', 'protocol/connection.ts', 'protocol/registry.ts', 'errors.ts'],
  cli: ['index.ts'],
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : []
  })
}

const layerOf = (rel: string) => (rel.includes('/') ? rel.split('/')[0]! : rel)

test('each layer imports only the layers below it', () => {
  const wrong: string[] = []
  for (const file of files(src)) {
    const rel = relative(src, file)
    const layer = layerOf(rel)
    const rules = allowed[layer]
    assert.ok(rules, `no rule for ${rel}: add its layer to the architecture test`)
    for (const m of readFileSync(file, 'utf8').matchAll(/^import (type )?[^'"]*from '(\.[^']+)'/gm)) {
      if (m[1]) continue
      const target = relative(src, resolve(dirname(file), m[2]!))
      const ok = rules!.includes('*') || rules!.includes(layerOf(target)) || rules!.includes(target)
      if (!ok) wrong.push(`${rel} imports ${target}`)
    }
  }
  assert.equal(wrong, [])
})

test.run()
