// Type tests for typed connections: every function that makes a connection takes the type of the
// peer's root, so `conn.root` is a `Remote<T>` without a cast, and it is never `any`. Checked by
// `tsc --noEmit`; nothing here runs (see types.test.ts for how these files work).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { expectTypeOf } from 'expect-type'
import { connect, connectPort, connectStream, fork, pair, serveParent, spawn, worker } from '../src/index.ts'
import type { Connection, Remote, RemotePromise } from '../src/index.ts'

declare class Engine {
  speed: number
  start(rpm: number): boolean
}

declare class Dashboard {
  show(text: string): void
}

async function endpoints() {
  expectTypeOf((await worker<Engine>('./engine.js')).root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf((await fork<Engine>('./engine.js')).root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf((await spawn<Engine>('node', ['engine.js'], { stdio: 'protocol' })).root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf((await connect<Engine>({ port: 1 })).root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf((await serveParent<Dashboard>()).root).toEqualTypeOf<Remote<Dashboard>>()
  expectTypeOf(connectPort<Engine>(null as never).root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf(connectStream<Engine>(null as never).root).toEqualTypeOf<Remote<Engine>>()

  const conn = await worker<Engine>('./engine.js')
  expectTypeOf(conn.root.start(3000)).toEqualTypeOf<RemotePromise<boolean>>()
  // @ts-expect-error a misspelt method is a compile error, no cast needed
  void conn.root.strat(3000)
  // @ts-expect-error wrong argument types too
  void conn.root.start('fast')
}

async function untyped() {
  // without a type the root is Remote<unknown>, never any: nothing can be used on it by mistake
  const conn = await worker('./engine.js')
  expectTypeOf(conn.root).toEqualTypeOf<Remote<unknown>>()
  expectTypeOf(conn.root).not.toBeAny()
  // @ts-expect-error Remote<unknown> shows no members
  void conn.root.start(1)
  // a Connection<T> is still a Connection (for functions that take any connection)
  expectTypeOf(conn).toExtend<Connection>()
  expectTypeOf<Connection<Engine>>().toExtend<Connection>()
}

function pairs() {
  // typed from the roots given: a.root is b's root
  const [a, b] = pair({ root: {} as Dashboard }, { root: {} as Engine })
  expectTypeOf(a.root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf(b.root).toEqualTypeOf<Remote<Dashboard>>()
  // or explicitly: pair<A, B>() gives [Connection<A>, Connection<B>]
  const [c, d] = pair<Engine, Dashboard>()
  expectTypeOf(c.root).toEqualTypeOf<Remote<Engine>>()
  expectTypeOf(d.root).toEqualTypeOf<Remote<Dashboard>>()
  // @ts-expect-error the root given must be what the other side expects
  pair<Engine, Dashboard>({}, { root: { show: 1 } })
  const [e] = pair()
  expectTypeOf(e.root).toEqualTypeOf<Remote<unknown>>()
}

async function fetched() {
  const conn = await worker<Engine>('./engine.js')
  expectTypeOf(conn.fetch<Dashboard>('dash')).toEqualTypeOf<RemotePromise<Dashboard>>()
  expectTypeOf(await conn.fetch<Dashboard>('dash')).toEqualTypeOf<Remote<Dashboard>>()
  expectTypeOf(conn.fetch('dash')).toEqualTypeOf<RemotePromise<unknown>>()
  // @ts-expect-error an untyped fetch shows no members either
  void conn.fetch('dash').show('x')
}

void [endpoints, untyped, pairs, fetched]

test('typed connections compile (checked by tsc --noEmit)', () => {
  assert.ok(true)
})

test.run()
