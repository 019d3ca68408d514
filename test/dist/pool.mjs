// Smoke test of the built pool (ESM): its worker entry ships in dist/ and is found from there,
// over both runtimes, with a user module that imports farside by name.
import * as farside from 'farside'
import { checkPool } from './pool-check.cjs'

await checkPool(farside, new URL('./tasks.mjs', import.meta.url))
console.log('dist-esm pool: 1 passed, 0 failed')
