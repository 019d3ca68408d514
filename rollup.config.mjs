// Build: ESM + CJS for the library and its run-time entry files, plus bundled .d.ts and .d.cts.
import esbuild from 'rollup-plugin-esbuild'
import { dts } from 'rollup-plugin-dts'
import { builtinModules } from 'node:module'
import pkg from './package.json' with { type: 'json' }

const external = [
  ...builtinModules,
  ...builtinModules.map((m) => `node:${m}`),
  ...Object.keys(pkg.dependencies ?? {}),
]
const input = { index: 'src/index.ts' }
const plugins = [esbuild({ target: 'node20', minify: false })]

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
    // the command line: ESM only, with its shebang (kept by esbuild from the source)
    input: { cli: 'src/cli/main.ts' },
    external: [...external, /\.\.\/index\.ts$/, /\.\/index\.js$/],
    plugins,
    output: { dir: 'dist', format: 'esm', entryFileNames: '[name].js', paths: (id) => (id.endsWith('index.ts') ? './index.js' : id) },
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
