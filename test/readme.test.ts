// Every TypeScript snippet in README.md compiles as written: each ```ts block is type-checked as an
// ES module of its own against the package's types (`farside` is the source here). A block that
// opens with `// name.ts` is that module, which other blocks may import (`./engine.js`);
// `./service.js` is test/fixtures/readme-service.ts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import ts from 'typescript'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

/** The ```ts blocks of a markdown file, with the line each starts on. */
export function snippets(markdown: string): { line: number; code: string }[] {
  const out: { line: number; code: string }[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s*$/.test(lines[i]!)) continue
    const start = i + 1
    let j = start
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) j++
    out.push({ line: start + 1, code: lines.slice(start, j).join('\n') })
    i = j
  }
  return out
}

test('every TypeScript snippet in the README compiles as written', () => {
  const blocks = snippets(readFileSync(join(root, 'README.md'), 'utf8'))
  assert.ok(blocks.length >= 10, `found ${blocks.length} snippets`)
  const dir = mkdtempSync(join(tmpdir(), 'farside-readme-'))
  try {
    // ES modules, so that top-level await is allowed, as in a user's ESM project
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
    copyFileSync(join(root, 'test/fixtures/readme-service.ts'), join(dir, 'service.ts'))
    const lineOf = new Map<string, number>()
    const files = blocks.map((b, k) => {
      const named = /^\/\/ ([\w-]+)\.ts\b/.exec(b.code)
      const file = join(dir, named ? `${named[1]}.ts` : `snippet-${k}.ts`)
      assert.not.ok(lineOf.has(file), `two README blocks are ${named?.[1]}.ts`)
      lineOf.set(file, b.line)
      writeFileSync(file, `${b.code}\nexport {}\n`)
      return file
    })
    const options: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts'],
      types: ['node'],
      typeRoots: [join(root, 'node_modules/@types')],
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      allowImportingTsExtensions: true,
      baseUrl: dir,
      paths: { farside: [join(root, 'src/index.ts')] },
    }
    const program = ts.createProgram(files, options)
    const problems = ts.getPreEmitDiagnostics(program)
      .filter((d) => d.file !== undefined && d.file.fileName.startsWith(dir))
      .map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0)
        const readmeLine = (lineOf.get(d.file!.fileName) ?? 0) + line
        return `README.md:${readmeLine}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
      })
    assert.equal(problems, [], problems.join('\n'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test.run()
