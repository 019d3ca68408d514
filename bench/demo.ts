// npm start: offload an object to a worker thread, use it through a Remote (a call, a pipelined
// chain, a callback), then time farside's calls against raw postMessage to the same thread.
import { isRemote, type Remote } from 'farside'
import { farsideWorker } from './contenders/farside.ts'
import { sharedHost } from './contenders/hosts.ts'
import { raw } from './contenders/raw.ts'
import type { Service } from './fixtures/service.mjs'
import { textTable } from './lib/report.ts'
import { inFlight, sequential, type Row } from './scenarios/calls.ts'

const say = (s = '') => process.stdout.write(`${s}\n`)
const show = (code: string, result: unknown, note = '') => say(`  ${code.padEnd(46)} → ${String(result)}${note && `   (${note})`}`)

say('Starting a worker thread that serves fixtures/service.mjs with serveParent() ...')
const farside = await farsideWorker.start()
const root = farside.conn.root as Remote<Service>

show('await root.add(2, 3)', await root.add(2, 3))
// three operations leave in one batch; only the last result comes back
show('await root.makeNode(1).child(0).value', await root.makeNode(1).child(0).value, 'pipelined: one round trip')
const heard: number[] = []
const answer = await root.run((x: number) => heard.push(x))
show('await root.run((x) => heard.push(x))', answer, `the worker called back home: heard = [${heard.join(', ')}]`)
const node = await root.makeNode(7)
say('  const node = await root.makeNode(7)')
show('isRemote(node)', isRemote(node), 'the Node itself stays in the worker')
show('await node.child(3).value', await node.child(3).value)

say('\nTiming farside against raw postMessage to the same worker thread (interleaved rounds, a few seconds) ...')
// the raw baseline is served by the same worker thread, on a MessageChannel port of its own
const rawRow: Row = { name: 'raw postMessage', session: await raw(sharedHost(farside.conn)).start() }
const rows: Row[] = [{ name: 'farside', session: farside }, rawRow]
const seq = await sequential(rows, 'raw postMessage', { rounds: 101, warmup: 50, label: 'sequential calls' }, 20)
const thr = await inFlight(rows, 'raw postMessage', { rounds: 41, warmup: 5, label: '1000 calls in flight' }, 1000, 1)

say('\nSequential round trip (each call awaited before the next):')
say(textTable(seq.table))
say('\n1000 calls in flight (started at once, then awaited):')
say(textTable(thr.table))
say('\nRatios are medians of per-round ratios (quartiles in brackets). npm run bench measures more and writes bench/RESULTS.md.')

await rawRow.session.close()
await farside.close()
