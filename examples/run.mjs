// Runs one example by name: `npm run example -- worker` runs examples/worker-main.mjs.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const examples = { worker: 'worker-main.mjs', tcp: 'tcp.mjs' }
const name = process.argv[2]
const file = examples[name]
if (file === undefined) {
  console.error(`usage: npm run example -- <${Object.keys(examples).join(' | ')}>`)
  process.exit(2)
}
const { status } = spawnSync(process.execPath, [fileURLToPath(new URL(file, import.meta.url))], { stdio: 'inherit' })
process.exit(status ?? 1)
