// Smoke test of the built pool (CommonJS): the .cjs worker entry, found from dist/index.cjs.
const path = require('node:path')
const { checkPool } = require('./pool-check.cjs')

checkPool(require('farside'), path.join(__dirname, 'tasks.cjs')).then(
  () => console.log('dist-cjs pool: 1 passed, 0 failed'),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
