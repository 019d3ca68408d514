// The worker side: serve an Engine to the parent.
import { serveParent } from 'farside'
import { workerData } from 'node:worker_threads'

class Bucket {
  constructor(items) { this.items = items }
  get size() { return this.items.length }
}

class Engine {
  constructor(size) { this.data = Array.from({ length: size }, (_, i) => i) }
  count() { return this.data.length }
  squares(n) { return this.data.slice(0, n).map((x) => x * x) }
  bucket(k) { return new Bucket(this.data.filter((x) => x % 100 === k)) }
  async forEachPrime(limit, cb) {
    for (let n = 2; n < limit; n++) {
      let prime = true
      for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false
      if (prime) await cb(n)
    }
  }
}

await serveParent({ root: new Engine(workerData.size) })
