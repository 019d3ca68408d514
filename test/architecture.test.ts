// The layers of STYLE.md, checked on the sources: each folder of src/ imports at run time only
// from the layers it may use, the codec never names the transports (not even for a type), and
// no run-time import cycle exists among src files. Type-only imports are otherwise free (types
// and errors may be imported from anywhere).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

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
  helpers: ['helpers', 'proxy', 'errors.ts'],
  endpoints: ['endpoints', 'protocol', 'transport', 'errors.ts'],
  // on top: the public core only (connections made by endpoints, the Connection and Registry)
  // (the isolate entries import index.ts: in their own process or thread they must share the one
  // copy of farside the served module imports; nothing imports them, they are started by URL)
  server: ['server', 'endpoints', 'discovery', 'index.ts', 'protocol/connection.ts', 'protocol/registry.ts', 'errors.ts'],
  // the registry's wire, server and clients: plain sockets, no farside connection
  discovery: ['discovery', 'errors.ts'],
  // next to the server: the Connection's public members and its injection hook, nothing deeper
  classic: ['classic', 'protocol/connection.ts', 'errors.ts'],
  // on top, as the server: connections made by endpoints, withOptions from the helpers
  pool: ['pool', 'endpoints', 'helpers', 'protocol/connection.ts', 'errors.ts'],
  cli: ['cli', 'index.ts'],
}

/** Layers a layer may not import at all, types included. */
const never: Record<string, string[]> = {
  // the codec is transport-agnostic: what crosses is decided without knowing how it travels
  codec: ['transport'],
}

/**
 * How an import binds: 'run' is evaluated at load time (a cycle hazard); 'type' vanishes from
 * the output; 'dynamic' is an `import()` call, run time but not at load time.
 */
type Kind = 'run' | 'type' | 'dynamic'
interface Edge {
  spec: string
  kind: Kind
}

/**
 * The imports of one TypeScript source, found by the compiler's parser (so comments, strings and
 * line breaks inside braces cannot fool it). With `verbatimModuleSyntax` only `import type` and
 * `export type` are erased: `import { type A } from` still loads its module (as `import {} from`),
 * so it counts as a run-time import, as does `import { type A, b }` and `import './x'`.
 */
function importsOf(fileName: string, text: string): Edge[] {
  const file = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS)
  const edges: Edge[] = []
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      edges.push({ spec: node.moduleSpecifier.text, kind: node.importClause?.isTypeOnly ? 'type' : 'run' })
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      edges.push({ spec: node.moduleSpecifier.text, kind: node.isTypeOnly ? 'type' : 'run' })
    } else if (ts.isImportTypeNode(node)) {
      // `import('./x.ts').T` in a type position
      const arg = node.argument
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) edges.push({ spec: arg.literal.text, kind: 'type' })
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0]
      if (arg !== undefined && ts.isStringLiteralLike(arg)) edges.push({ spec: arg.text, kind: 'dynamic' })
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
  return edges
}

/** A run-time cycle in `graph` (file -> files it imports), as a path that ends where it starts. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const dfs = (node: string): string[] | undefined => {
    stack.push(node)
    onStack.add(node)
    for (const next of graph.get(node) ?? []) {
      if (onStack.has(next)) return [...stack.slice(stack.indexOf(next)), next]
      if (done.has(next)) continue
      const found = dfs(next)
      if (found) return found
    }
    stack.pop()
    onStack.delete(node)
    done.add(node)
    return undefined
  }
  for (const node of [...graph.keys()].sort()) {
    if (done.has(node)) continue
    const found = dfs(node)
    if (found) return found
  }
  return undefined
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : []
  })
}

const layerOf = (rel: string) => (rel.includes('/') ? rel.split('/')[0]! : rel)

interface SrcEdge {
  from: string
  to: string
  kind: Kind
}

/** Every relative import of every file under src/, targets relative to src/. */
function srcEdges(): SrcEdge[] {
  return files(src).flatMap((file) =>
    importsOf(file, readFileSync(file, 'utf8'))
      .filter((e) => e.spec.startsWith('.'))
      .map((e) => ({ from: relative(src, file), to: relative(src, resolve(dirname(file), e.spec)), kind: e.kind })),
  )
}

test('the import parser sees every form', () => {
  const text = [
    `import {`,
    `  a,`,
    `  b,`,
    `} from './multi.ts'`,
    `import type { T } from './type-only.ts'`,
    `import { type U, v } from './mixed.ts'`,
    `import { type W } from './inline-type-only.ts'`,
    `import './side-effect.ts'`,
    `import * as ns from './namespace.ts'`,
    `import def, { type X } from './default.ts'`,
    `export { c } from './re-export.ts'`,
    `export * from './star.ts'`,
    `export type { Y } from './type-re-export.ts'`,
    `// import { fake } from './in-a-comment.ts'`,
    `const s = "import { fake } from './in-a-string.ts'"`,
    `let z: import('./import-type.ts').Z`,
    `const later = () => import('./dynamic.ts')`,
  ].join('\n')
  assert.equal(importsOf('fixture.ts', text), [
    { spec: './multi.ts', kind: 'run' },
    { spec: './type-only.ts', kind: 'type' },
    { spec: './mixed.ts', kind: 'run' },
    { spec: './inline-type-only.ts', kind: 'run' },
    { spec: './side-effect.ts', kind: 'run' },
    { spec: './namespace.ts', kind: 'run' },
    { spec: './default.ts', kind: 'run' },
    { spec: './re-export.ts', kind: 'run' },
    { spec: './star.ts', kind: 'run' },
    { spec: './type-re-export.ts', kind: 'type' },
    { spec: './import-type.ts', kind: 'type' },
    { spec: './dynamic.ts', kind: 'dynamic' },
  ])
})

test('the cycle finder reports the path of a cycle', () => {
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c', 'd']],
    ['c', []],
    ['d', ['b']],
  ])
  assert.equal(findCycle(graph), ['b', 'd', 'b'])
  assert.equal(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', []], ['x', ['c']]])), undefined)
  assert.equal(findCycle(new Map([['a', ['a']]])), ['a', 'a'])
})

test('every relative import names a file that exists', () => {
  const missing = srcEdges()
    .filter((e) => !existsSync(join(src, e.to)))
    .map((e) => `${e.from} imports ${e.to}`)
  assert.equal(missing, [])
})

test('each layer imports at run time only the layers below it', () => {
  const wrong: string[] = []
  for (const e of srcEdges()) {
    const rules = allowed[layerOf(e.from)]
    assert.ok(rules, `no rule for ${e.from}: add its layer to the architecture test`)
    if (e.kind === 'type') continue
    const ok = rules!.includes('*') || rules!.includes(layerOf(e.to)) || rules!.includes(e.to)
    if (!ok) wrong.push(`${e.from} imports ${e.to}`)
  }
  assert.equal(wrong, [])
})

test('the codec does not import the transports, not even their types', () => {
  const wrong = srcEdges()
    .filter((e) => never[layerOf(e.from)]?.includes(layerOf(e.to)))
    .map((e) => `${e.from} imports ${e.to}${e.kind === 'type' ? ' (type-only)' : ''}`)
  assert.equal(wrong, [])
})

test('no run-time import cycle among src files', () => {
  const graph = new Map<string, string[]>()
  for (const file of files(src)) graph.set(relative(src, file), [])
  // `import()` runs later, not while the module graph loads, so it cannot cause a load-order cycle
  for (const e of srcEdges()) if (e.kind === 'run') graph.get(e.from)!.push(e.to)
  const cycle = findCycle(graph)
  assert.ok(cycle === undefined, `run-time import cycle: ${cycle?.join(' -> ')}`)
})

test.run()
