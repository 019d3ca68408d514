// The linter's two promise rules are on and catch what they are for: a file with a floating
// RemotePromise and an async callback where a void one is expected fails them (the project's
// own `npm run lint` must be clean; this shows that a clean run means something).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ESLint } from 'eslint'
import { fileURLToPath } from 'node:url'

test('no-floating-promises and no-misused-promises catch the typical RPC bugs', async () => {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const eslint = new ESLint({ cwd: root, ignore: false })
  const [result] = await eslint.lintFiles([fileURLToPath(new URL('./fixtures/lint-bad.ts', import.meta.url))])
  const rules = result!.messages.map((m) => `${m.line}:${m.ruleId}`)
  assert.ok(rules.includes('7:@typescript-eslint/no-floating-promises'), rules.join(', '))
  assert.ok(rules.includes('9:@typescript-eslint/no-misused-promises'), rules.join(', '))
})

test.run()
