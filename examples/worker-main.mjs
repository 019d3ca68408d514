// Offload an object to a worker thread and use it as if it were local.
// Run: npm run example -- worker
import { worker } from 'farside'

const conn = await worker(new URL('./worker-engine.mjs', import.meta.url), { workerData: { size: 100_000 } })
const engine = conn.root
console.log('count:', await engine.count())
console.log('first three squares:', await engine.squares(3))
// pipelined: one round trip for the whole chain
console.log('bucket 7 size:', await engine.bucket(7).size)
// a callback that calls home
let seen = 0
await engine.forEachPrime(50, () => seen++)
console.log('primes below 50 (counted here):', seen)
await conn.close()
