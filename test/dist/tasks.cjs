// A pool module that uses the built package by name, as a user's would (CommonJS).
const { currentCall } = require('farside')
exports.add = (a, b) => a + b
exports.inc = (x) => x + 1
exports.call = (cb) => cb(2)
exports.served = () => currentCall().signal.aborted === false
exports.Counter = class Counter {
  constructor(n) { this.n = n }
  inc() { return ++this.n }
}
