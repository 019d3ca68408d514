// Build: ESM + CJS for the library and its run-time entry files, plus bundled .d.ts and .d.cts.
import esbuild from 'rollup-plugin-esbuild'
import { dts } from 'rollup-plugin-dts'
import { builtinModules } from 'node:module'
import { basename, dirname, resolve } from 'node:path'
import pkg from './package.json' with { type: 'json' }

const external = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  ...Object.keys(pkg.dependencies ?? {}),
]
const input = { index: 'src/index.ts' }

/**
 * Run-time entry files (the pool worker's) are found in the sources with
 * `new URL('./entry.ts', import.meta.url)`. Here each becomes an entry chunk of its own, named by
 * its folder and file (src/pool/entry.ts: dist/pool-entry.js and .cjs), and the URL points at
 * it from the chunk that asks, in ESM and CommonJS alike (Rollup's ROLLUP_FILE_URL).
 */
function entryUrls() {
  const pattern = /new URL\((['"])(\.\.?\/[^'"]+)\.ts\1,\s*import\.meta\.url\)/g
  return {
    name: 'entry-urls',
    transform(code, id) {
      if (!id.includes('/src/') || !code.includes('import.meta.url')) return null
      let changed = false
      const out = code.replace(pattern, (_, _quote, rel) => {
        const file = resolve(dirname(id), `${rel}.ts`)
        const ref = this.emitFile({ type: 'chunk', id: file, name: `${basename(dirname(file))}-${basename(rel)}` })
        changed = true
        return `new URL(import.meta.ROLLUP_FILE_URL_${ref})`
      })
      return changed ? { code: out, map: null } : null
    },
  }
}
const plugins = [esbuild({ target: 'node20', minify: false }), entryUrls()]

export default [
  {
    input,
    external,
    plugins,
    output: [
      { dir: 'dist', format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
      { dir: 'dist', format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'chunks/[name]-[hash].cjs', exports: 'named' },
    ],
  },
  {
    // the command line: ESM only, with its shebang (kept by esbuild from the source); the bench's
    // worker and child entry files are inputs beside it (found with new URL(..., import.meta.url)),
    // and every file of this build sits in dist/ itself, so the package's index is ./index.js
    input: { cli: 'src/cli/main.ts', 'bench-worker': 'src/cli/bench/worker-entry.ts', 'bench-child': 'src/cli/bench/child-entry.ts' },
    external: [...external, /\.\.\/index\.ts$/, /\.\/index\.js$/],
    plugins,
    output: {
      dir: 'dist',
      format: 'esm',
      entryFileNames: '[name].js',
      chunkFileNames: 'cli-[name].js',
      paths: (id) => (id.endsWith('index.ts') ? './index.js' : id),
    },
  },
  {
    // the entries of listen()'s isolates, started by URL next to index.js / index.cjs; they import
    // the package's own entry (not a bundled copy), so that the module they serve, importing
    // farside, shares one copy of it with them
    input: { 'isolate-child': 'src/server/isolate-child.ts', 'isolate-worker': 'src/server/isolate-worker.ts' },
    external: [...external, /\.\.\/index\.ts$/],
    plugins,
    output: [
      { dir: 'dist', format: 'esm', entryFileNames: '[name].js', chunkFileNames: 'chunks/isolate-[hash].js', paths: (id) => (id.endsWith('index.ts') ? './index.js' : id) },
      { dir: 'dist', format: 'cjs', entryFileNames: '[name].cjs', chunkFileNames: 'chunks/isolate-[hash].cjs', paths: (id) => (id.endsWith('index.ts') ? './index.cjs' : id) },
    ],
  },
  {
    // the same declarations twice: .d.ts for `import`, .d.cts for `require` (a .d.ts beside a
    // "type": "module" package.json would tell TypeScript that require() gets an ES module);
    // @internal members are left out of what users see
    input: 'src/index.ts',
    external,
    plugins: [dts({ compilerOptions: { stripInternal: true } })],
    output: [
      { file: 'dist/index.d.ts', format: 'esm' },
      { file: 'dist/index.d.cts', format: 'esm' },
    ],
  },
]
