// A TCP server and a client in one script; two clients share the server's registry.
// Run: npm run example -- tcp
import { listen, connect } from 'farside'

class Counter {
  n = 0
  inc() { return ++this.n }
}

const server = await listen({ host: '127.0.0.1', port: 0 }, { root: { make: () => new Counter() } })
const alice = await connect(server.address)
const bob = await connect(server.address)
const counter = await alice.root.make()
await counter.inc()
await alice.attach(counter, 'shared')
console.log('bob sees', await bob.fetch('shared').inc()) // 2
await alice.close()
await bob.close()
await server.close()
