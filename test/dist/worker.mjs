// A worker that uses the built package by name, as a user's would.
import { serveParent } from 'farside'
class Node {
  constructor(value) { this.value = value }
  child(i) { return new Node(this.value * 10 + i) }
}
await serveParent({ root: { add: (a, b) => a + b, makeNode: (v) => new Node(v), call: (cb) => cb(2) } })
