// The same worker, written as CommonJS with require('farside').
const { serveParent } = require('farside')
serveParent({ root: { add: (a, b) => a + b, makeNode: (v) => ({ value: v }), call: (cb) => cb(2) } })
