// Lint: the typical RPC bugs are a promise nobody awaits (its rejection goes unseen) and a promise
// where a plain value or a void callback is expected; both rules need type information.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  // lint-bad.ts holds the bugs test/lint.test.ts proves the rules catch
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '**/*.d.mts', 'test/fixtures/lint-bad.ts'] },
  {
    files: ['**/*.ts', '**/*.mts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // the codebase uses `any` deliberately at the proxy boundary and in tests of it
      '@typescript-eslint/no-explicit-any': 'off',
      // a `let` assigned once after closures that read it (a server its own handlers refer to)
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // type tests: expressions that are only checked by the compiler, never run or awaited
    files: ['test/types*.test.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-misused-promises': 'off',
      '@typescript-eslint/no-unused-expressions': 'off',
      '@typescript-eslint/no-unused-vars': 'off',
      '@typescript-eslint/ban-ts-comment': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setImmediate: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly', performance: 'readonly', structuredClone: 'readonly', MessageChannel: 'readonly', AbortController: 'readonly', queueMicrotask: 'readonly', globalThis: 'readonly' } },
  },
)
