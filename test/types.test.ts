// Type tests for Remote<T>, RemotePromise<T>, Settled<T> and Arg<T>. They are checked by
// `tsc --noEmit` (npm run typecheck); nothing here runs: the assertions live in functions that are
// never called, and the uvu test below only makes the runner count this file. A line under
// `// @ts-expect-error` must NOT compile: if it ever does, tsc reports the unused directive.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { expectTypeOf } from 'expect-type'
import type { Arg, Remote, RemotePromise, Settled } from '../src/index.ts'
import type { Readable, Transform, Writable } from 'node:stream'

// ---- the remote side's types (never instantiated here) ----------------------------------------

declare class Node {
  constructor(value: number)
  value: number
  readonly double: number
  parent?: Node
  child(i: number): Node
  children(): Node[]
}

declare class Counter {
  static created: number
  constructor(start?: number)
  count: number
  inc(by?: number): number
}

/** Plain data: no methods, so it crosses by value. */
interface Config {
  host: string
  readonly port: number
  when: Date
  pattern: RegExp
  bytes: Uint8Array
  big: bigint
  owner: Node
  nested: { deep: { value: number } }
  tags: readonly string[]
  byName: Map<string, Node>
  ids: ReadonlySet<number>
  pending: Promise<Node>
  failure: Error
  optional?: string
}

interface Options {
  name: string
  onProgress?: (done: number, node: Node) => void
  nodes?: readonly Node[]
}

/** A class with a property named then: not thenable, and `then` is reachable only by get(). */
declare class Odd {
  then: number
  ok(): boolean
}

/** Recursive plain data. */
interface Tree {
  value: number
  children: Tree[]
  node?: Node
}

declare abstract class Shape {
  abstract area(): number
}

declare class Service {
  version: number
  greeting: string
  _secret: string
  nested: { deep: { value: number } }
  items: number[]
  tags: readonly string[]
  byId: Record<string, Node>
  maybe?: Node
  fn: (x: number) => string
  anyThing: any
  unknownThing: unknown
  pendingValue: Promise<number>
  Node: typeof Node
  Counter: typeof Counter
  Shape: typeof Shape

  add(a: number, b: number): number
  later(x: string): Promise<string>
  makeNode(v: number): Node
  load(v: number): Promise<Node>
  nodes(): Node[]
  frozen(): readonly Node[]
  pairOf(): readonly [number, Node]
  byName(): Map<string, Node>
  config(): Config
  tree(): Tree
  odd(): Odd
  withPromise(): { p: Promise<number> }
  link(a: Node, b: Node | undefined): boolean
  takeList(xs: readonly Node[]): number
  takeMap(m: Map<string, Node>): number
  takeConfig(c: { host: string; owner: Node }): void
  same(a: unknown, b: unknown): boolean
  callback(cb: (x: number) => number, x: number): number
  callbackAsync(cb: (x: number) => Promise<number>, x: number): Promise<number>
  visit(cb: (n: Node, i: number) => void): void
  configure(options: Options): void
  optionalMethod?(x: number): string
  opt(a: number, b?: string): void
  rest(first: string, ...xs: number[]): number
  echo<T>(x: T): T
  parse(x: string): string
  parse(x: number): number
  range(n: number): Generator<number, void, unknown>
  stream(): AsyncGenerator<Node>
  nothing(): void
  fail(): never
}

/** What `obtain(r)` and friends look like: T inferred from a Remote or RemotePromise. */
declare function peek<T>(r: Remote<T> | RemotePromise<T>): T

// ---- the checks ---------------------------------------------------------------------------------

async function methodsAndProperties(r: Remote<Service>) {
  // sync and async methods: a RemotePromise of the awaited result
  expectTypeOf(r.add(1, 2)).toEqualTypeOf<RemotePromise<number>>()
  expectTypeOf(await r.add(1, 2)).toEqualTypeOf<number>()
  expectTypeOf(r.later('x')).toEqualTypeOf<RemotePromise<string>>()
  expectTypeOf(await r.later('x')).toEqualTypeOf<string>()
  expectTypeOf(await r.load(1)).toEqualTypeOf<Remote<Node>>()
  expectTypeOf(await r.nothing()).toEqualTypeOf<void>()
  expectTypeOf(await r.fail()).toEqualTypeOf<never>()

  // property reads
  expectTypeOf(r.version).toEqualTypeOf<RemotePromise<number>>()
  expectTypeOf(await r.version).toEqualTypeOf<number>()
  expectTypeOf(await r.greeting).toEqualTypeOf<string>()
  expectTypeOf(await r.nested).toEqualTypeOf<{ deep: { value: number } }>()
  expectTypeOf(await r.nested.deep.value).toEqualTypeOf<number>()
  expectTypeOf(await r.items).toEqualTypeOf<number[]>()
  expectTypeOf(await r.byId).toEqualTypeOf<{ [k: string]: Remote<Node> }>()
  // a promise-valued property is awaited over there
  expectTypeOf(await r.pendingValue).toEqualTypeOf<number>()
  // a method read without calling it: awaiting gives a Remote of the function
  expectTypeOf(await r.add).toEqualTypeOf<Remote<(a: number, b: number) => number>>()
  // a function-valued property is called like a method
  expectTypeOf(await r.fn(1)).toEqualTypeOf<string>()
  expectTypeOf(await r.fn).toEqualTypeOf<Remote<(x: number) => string>>()

  // optional and rest parameters
  r.opt(1)
  r.opt(1, 'b')
  expectTypeOf(await r.rest('a', 1, 2, 3)).toEqualTypeOf<number>()
  r.rest('a')
}

async function pipelining(r: Remote<Service>) {
  // nothing is awaited until the end: one round trip
  expectTypeOf(r.makeNode(1).child(0).value).toEqualTypeOf<RemotePromise<number>>()
  expectTypeOf(await r.makeNode(1).child(0).value).toEqualTypeOf<number>()
  expectTypeOf(await r.makeNode(1).child(0).child(1).double).toEqualTypeOf<number>()
  expectTypeOf(await r.makeNode(1).children()).toEqualTypeOf<Remote<Node>[]>()
  // through an async method's result, a plain object, an array element
  expectTypeOf(await r.load(1).child(2).value).toEqualTypeOf<number>()
  expectTypeOf(await r.config().owner.child(1).value).toEqualTypeOf<number>()
  expectTypeOf(await r.config().nested.deep.value).toEqualTypeOf<number>()
  expectTypeOf(await r.pairOf()[1].value).toEqualTypeOf<number>()
  expectTypeOf(await r.items.length).toEqualTypeOf<number>()
  // an index signature reads as possibly undefined under noUncheckedIndexedAccess (see types.ts)
  expectTypeOf(await r.byId['a']!.value).toEqualTypeOf<number>()
  // a pending result is a RemotePromise, and a method read off it is callable
  expectTypeOf(r.makeNode(1).child).toExtend<(i: number) => RemotePromise<Node>>()
}

async function settledResults(r: Remote<Service>) {
  // a class instance arrives as a Remote
  const node = await r.makeNode(1)
  expectTypeOf(node).toEqualTypeOf<Remote<Node>>()
  expectTypeOf(await node.value).toEqualTypeOf<number>()
  expectTypeOf(await node.child(1)).toEqualTypeOf<Remote<Node>>()

  // plain data arrives by value, deeply, with class instances in it as Remotes
  const config = await r.config()
  expectTypeOf(config).toEqualTypeOf<{
    host: string
    port: number
    when: Date
    pattern: RegExp
    bytes: Uint8Array
    big: bigint
    owner: Remote<Node>
    nested: { deep: { value: number } }
    tags: string[]
    byName: Map<string, Remote<Node>>
    ids: Set<number>
    pending: Promise<Remote<Node>>
    failure: Error
    optional?: string
  }>()
  // it is a local copy: no RemotePromises in it
  expectTypeOf(config.host).toEqualTypeOf<string>()
  expectTypeOf(config.owner.child(1)).toEqualTypeOf<RemotePromise<Node>>()

  // arrays, tuples and Maps of class instances: arrays, tuples and Maps of Remotes
  expectTypeOf(await r.nodes()).toEqualTypeOf<Remote<Node>[]>()
  expectTypeOf(await r.byName()).toEqualTypeOf<Map<string, Remote<Node>>>()
  expectTypeOf(await r.pairOf()).toEqualTypeOf<[number, Remote<Node>]>()
  // readonly arrays arrive as fresh, mutable copies
  expectTypeOf(await r.frozen()).toEqualTypeOf<Remote<Node>[]>()
  expectTypeOf(await r.tags).toEqualTypeOf<string[]>()

  // recursive plain data
  const tree = await r.tree()
  expectTypeOf(tree.children[0]!.children[0]!.value).toEqualTypeOf<number>()
  expectTypeOf(tree.children[0]!.node).toEqualTypeOf<Remote<Node> | undefined>()
  expectTypeOf(await r.tree().children[0]!.children).toEqualTypeOf<Settled<Tree>[]>()

  // a promise inside by-value data arrives as a local Promise
  expectTypeOf(await r.withPromise()).toEqualTypeOf<{ p: Promise<number> }>()

  // Settled on its own
  expectTypeOf<Settled<Node | null>>().toEqualTypeOf<Remote<Node> | null>()
  expectTypeOf<Settled<readonly [Node, { n: Node }]>>().toEqualTypeOf<[Remote<Node>, { n: Remote<Node> }]>()
  expectTypeOf<Settled<ReadonlyMap<string, Set<Node>>>>().toEqualTypeOf<Map<string, Set<Remote<Node>>>>()
  expectTypeOf<Settled<(x: number) => void>>().toEqualTypeOf<Remote<(x: number) => void>>()
  expectTypeOf<Settled<{ data: any }>>().toEqualTypeOf<{ data: any }>()
  expectTypeOf<Settled<object>>().toEqualTypeOf<object>()
  // a Buffer arrives as a plain Uint8Array over a MessagePort (structured clone): typed as one
  expectTypeOf<Settled<Buffer>>().toEqualTypeOf<Uint8Array>()
  expectTypeOf<Settled<Uint8Array>>().toEqualTypeOf<Uint8Array>()
  // streams cross as streams of their kind (a Transform arrives as a Duplex; typed as sent)
  expectTypeOf<Settled<Readable>>().toEqualTypeOf<Readable>()
  expectTypeOf<Settled<Transform>>().toEqualTypeOf<Transform>()
  expectTypeOf<Settled<{ out: Writable; web: ReadableStream<Uint8Array> }>>().toEqualTypeOf<{ out: Writable; web: ReadableStream<Uint8Array> }>()
  // and a local stream may be passed where the far side takes one (fs.ReadStream for a Readable)
  expectTypeOf<import('node:fs').ReadStream>().toExtend<Arg<Readable>>()
  expectTypeOf<Readable>().toExtend<Arg<{ input: Readable }['input']>>()
}

async function constructors(r: Remote<Service>) {
  expectTypeOf(new r.Node(5)).toEqualTypeOf<RemotePromise<Node>>()
  expectTypeOf(await new r.Node(5)).toEqualTypeOf<Remote<Node>>()
  expectTypeOf(await new r.Node(5).child(1).value).toEqualTypeOf<number>()
  expectTypeOf(await new r.Counter()).toEqualTypeOf<Remote<Counter>>()
  expectTypeOf(await new r.Counter(3).inc()).toEqualTypeOf<number>()
  // statics are members of the remote class
  expectTypeOf(await r.Counter.created).toEqualTypeOf<number>()
  // and from a settled Remote of the class
  const Ctor = await r.Node
  expectTypeOf(Ctor).toEqualTypeOf<Remote<typeof Node>>()
  expectTypeOf(await new Ctor(1)).toEqualTypeOf<Remote<Node>>()

  // @ts-expect-error wrong constructor argument
  new r.Node('5')
  // @ts-expect-error a class is not callable without new
  r.Node(5)
  // @ts-expect-error a method is not a constructor
  new r.add(1, 2)
  // @ts-expect-error an abstract class cannot be constructed, there or here
  new r.Shape()
  // `prototype` is refused by the access policy: typed never, so it cannot be used
  expectTypeOf(r.Node.prototype).toBeNever()
  // @ts-expect-error
  r.Node.prototype.child
}

async function arguments_(r: Remote<Service>) {
  const node = await r.makeNode(1)
  // a settled Remote, a pending RemotePromise (pipelined) or a local value where a T is expected
  r.link(node, undefined)
  r.link(r.makeNode(1), r.makeNode(2))
  r.link(node, r.maybe)
  expectTypeOf(await r.add(r.version, await r.version)).toEqualTypeOf<number>()
  r.same(node, 'anything')
  // deeply: Remotes inside arrays, Maps and plain objects
  r.takeList([node, r.makeNode(2)])
  r.takeMap(new Map([['a', node]]))
  r.takeConfig({ host: 'h', owner: node })
  r.takeConfig({ host: r.greeting, owner: r.config().owner })
  // a Remote of a plain-data object where that object is expected
  r.takeConfig(r.config())

  // @ts-expect-error a RemotePromise<string> where a number is expected
  r.add(r.greeting, 1)
  // @ts-expect-error a Remote of the wrong class
  r.link(await new r.Counter(), undefined)
  // @ts-expect-error a plain-data result is not a Node
  r.link(r.config(), undefined)
  // @ts-expect-error wrong element in an array argument
  r.takeList([node, 1])
  // @ts-expect-error a misspelt property in an object argument
  r.takeConfig({ hots: 'h', owner: node })
}

async function callbacks(r: Remote<Service>) {
  // a local function where the far side expects one; its parameters are typed from the remote
  // signature, as they arrive here (class instances as Remotes)
  expectTypeOf(await r.callback((x) => x * 2, 21)).toEqualTypeOf<number>()
  r.callback(async (x) => x * 2, 21)
  expectTypeOf(await r.callbackAsync(async (x) => x + 1, 1)).toEqualTypeOf<number>()
  r.visit((n, i) => {
    expectTypeOf(n).toEqualTypeOf<Remote<Node>>()
    expectTypeOf(i).toEqualTypeOf<number>()
  })
  // a void callback may return anything
  r.visit((n) => n.child(1))
  // callbacks inside an options object
  r.configure({
    name: 'x',
    onProgress: (done, node) => {
      expectTypeOf(done).toEqualTypeOf<number>()
      expectTypeOf(node).toEqualTypeOf<Remote<Node>>()
    },
  })
  // a Remote function goes back as a reference
  const fn = await r.fn
  expectTypeOf(await fn(2)).toEqualTypeOf<string>()
  const cb = await r.add
  r.callback(async (x) => cb(x, 1), 1)

  // @ts-expect-error the callback gets a Remote<Node>, not a local Node
  r.visit((n: Node) => n.value)
  // @ts-expect-error wrong parameter type
  r.callback((x: string) => x.length, 1)
  // @ts-expect-error wrong return type
  r.callback((x) => String(x), 1)
}

async function mistakes(r: Remote<Service>) {
  const node = await r.makeNode(1)
  // @ts-expect-error misspelt method
  r.makeNod(1)
  // @ts-expect-error misspelt method on a pipelined result
  r.makeNode(1).chld(0)
  // @ts-expect-error misspelt method on a settled Remote
  node.chidl(0)
  // @ts-expect-error misspelt property
  r.verison
  // @ts-expect-error wrong argument type
  r.add('1', 2)
  // @ts-expect-error too few arguments
  r.add(1)
  // @ts-expect-error too many arguments
  r.add(1, 2, 3)
  // @ts-expect-error wrong optional argument
  r.opt(1, 2)
  // @ts-expect-error wrong rest argument
  r.rest('a', 1, '2')
  // @ts-expect-error `_private` members are refused by the access policy
  r._secret
  // and so is `constructor`: TypeScript gives every object one, so it is typed never, unusable
  expectTypeOf(r.constructor).toBeNever()
  // @ts-expect-error the classic escape does not compile
  r.constructor.constructor('return process')()
  // @ts-expect-error calling a property that is not a function
  r.version()
  // @ts-expect-error nor a nested plain object
  r.nested.deep()
  // @ts-expect-error no pipelining into by-value leaves (strings, numbers, dates): await them
  r.greeting.length
  // @ts-expect-error results are read-only: use set(r, 'version', 2)
  r.version = 2
}

async function thenability(r: Remote<Service>) {
  const node = await r.makeNode(1)
  // a settled Remote is not thenable: awaiting it gives itself
  expectTypeOf<Remote<Node>>().not.toExtend<PromiseLike<unknown>>()
  expectTypeOf<Awaited<Remote<Service>>>().toEqualTypeOf<Remote<Service>>()
  expectTypeOf(await node).toEqualTypeOf<Remote<Node>>()
  // @ts-expect-error no then on a settled Remote
  node.then
  // a RemotePromise is PromiseLike, and Promise.all takes it
  expectTypeOf(r.add(1, 2)).toExtend<PromiseLike<number>>()
  expectTypeOf(await Promise.all([r.add(1, 2), r.makeNode(1)])).toEqualTypeOf<[number, Remote<Node>]>()
  // ... and a Promise: catch and finally are local too
  expectTypeOf(r.add(1, 2).catch(() => 0)).toEqualTypeOf<Promise<number>>()
  expectTypeOf(r.add(1, 2)).toExtend<Promise<number>>()

  // a remote property named then: not part of the Remote (read it with get(r, 'then'))
  const odd = await r.odd()
  expectTypeOf(odd).toEqualTypeOf<Remote<Odd>>()
  expectTypeOf(await odd.ok()).toEqualTypeOf<boolean>()
  // @ts-expect-error `then` is hidden
  odd.then

  // every Remote and RemotePromise can be released
  expectTypeOf(node[Symbol.dispose]).toEqualTypeOf<() => void>()
  r.makeNode(1)[Symbol.dispose]()
}

async function iteration(r: Remote<Service>) {
  for await (const n of r.nodes()) expectTypeOf(n).toEqualTypeOf<Remote<Node>>()
  for await (const n of r.frozen()) expectTypeOf(n).toEqualTypeOf<Remote<Node>>()
  for await (const x of r.items) expectTypeOf(x).toEqualTypeOf<number>()
  for await (const x of r.range(3)) expectTypeOf(x).toEqualTypeOf<number>()
  for await (const n of r.stream()) expectTypeOf(n).toEqualTypeOf<Remote<Node>>()
  for await (const [k, v] of r.byName()) {
    expectTypeOf(k).toEqualTypeOf<string>()
    expectTypeOf(v).toEqualTypeOf<Remote<Node>>()
  }
  // a settled Remote of a generator iterates too
  const gen = await r.range(3)
  expectTypeOf(gen).toEqualTypeOf<Remote<Generator<number, void, unknown>>>()
  for await (const x of gen) expectTypeOf(x).toEqualTypeOf<number>()
  expectTypeOf(await gen.next()).toEqualTypeOf<IteratorResult<number, void>>()

  // @ts-expect-error a number is not iterable
  for await (const x of r.version) void x
  // @ts-expect-error nor is a string iterated remotely: await it
  for await (const x of r.greeting) void x
  // @ts-expect-error nor a Node
  for await (const x of await r.makeNode(1)) void x
}

async function generics(r: Remote<Service>) {
  // Generic methods lose their type parameters (TypeScript cannot map a generic signature):
  // `echo<T>(x: T): T` becomes `(x: unknown) => RemotePromise<unknown>`. Cast the result.
  expectTypeOf(r.echo(5)).toEqualTypeOf<RemotePromise<unknown>>()
  expectTypeOf((await r.echo(5)) as number).toEqualTypeOf<number>()
  // Overloads collapse to the LAST signature (what `infer` sees): parse(x: number): number.
  expectTypeOf(await r.parse(1)).toEqualTypeOf<number>()
  // @ts-expect-error the earlier overload, parse(x: string): string, is not visible
  r.parse('x')
}

async function optionals(r: Remote<Service>) {
  // an optional property: the read may give undefined
  expectTypeOf(r.maybe).toEqualTypeOf<RemotePromise<Node | undefined>>()
  expectTypeOf(await r.maybe).toEqualTypeOf<Remote<Node> | undefined>()
  // pipelining goes through it (at run time it rejects with TypeError if the property is missing)
  expectTypeOf(await r.maybe.child(1).value).toEqualTypeOf<number>()
  expectTypeOf(await r.makeNode(1).parent.value).toEqualTypeOf<number>()
  // an optional method is callable (rejects with TypeError if absent); read, it may be undefined
  expectTypeOf(await r.optionalMethod(1)).toEqualTypeOf<string>()
  expectTypeOf(await r.optionalMethod).toEqualTypeOf<Remote<(x: number) => string> | undefined>()
  // optional fields of plain data stay optional
  expectTypeOf(await r.config().optional).toEqualTypeOf<string | undefined>()
  // @ts-expect-error still checked: wrong argument type
  r.optionalMethod('1')
}

async function anyAndUnknown(r: Remote<Service>, a: Remote<any>, u: Remote<unknown>, o: Remote<object>) {
  // Remote<any> is any: everything goes, unchecked
  expectTypeOf(a).toBeAny()
  expectTypeOf(await a.anything(1).goes.here).toBeAny()
  expectTypeOf<RemotePromise<any>>().toBeAny()
  expectTypeOf<Settled<any>>().toBeAny()
  expectTypeOf<Arg<any>>().toBeAny()
  // any-typed members of a typed Remote are any as well
  expectTypeOf(r.anyThing).toBeAny()
  expectTypeOf(await r.anyThing.whatever()).toBeAny()
  // unknown stays unknown: nothing to read or call until you say what it is
  expectTypeOf(await r.unknownThing).toBeUnknown()
  expectTypeOf<Settled<unknown>>().toBeUnknown()
  expectTypeOf<Arg<unknown>>().toBeUnknown()
  // @ts-expect-error no members on Remote<unknown>
  u.foo
  // @ts-expect-error not callable
  u()
  // @ts-expect-error no members on Remote<object>
  o.foo
  u[Symbol.dispose]()
  // Remote<never> and friends do not explode
  expectTypeOf<Remote<never>>().toBeNever()
  expectTypeOf<Settled<never>>().toBeNever()
}

function functionsAndInference(f: Remote<(a: number, b?: string) => Node>, r: Remote<Service>) {
  // a Remote of a function is callable, with the same checks
  expectTypeOf(f(1)).toEqualTypeOf<RemotePromise<Node>>()
  expectTypeOf(f(1, 'b').child(2).value).toEqualTypeOf<RemotePromise<number>>()
  // @ts-expect-error wrong argument
  f('1')
  // generic helpers can infer T from a Remote or RemotePromise (as obtain() does)
  expectTypeOf(peek(r)).toEqualTypeOf<Service>()
  expectTypeOf(peek(r.config())).toEqualTypeOf<Config>()
  expectTypeOf(peek(r.load(1))).toEqualTypeOf<Node>()
  // Arg on its own
  expectTypeOf<Remote<Node>>().toExtend<Arg<Node>>()
  expectTypeOf<RemotePromise<Node>>().toExtend<Arg<Node | undefined>>()
  expectTypeOf<Remote<Counter>>().not.toExtend<Arg<Node>>()
  expectTypeOf<Arg<(n: Node) => void>>().toExtend<unknown>()
}

// referenced, so that nothing above is reported as unused, but never called
void [methodsAndProperties, pipelining, settledResults, constructors, arguments_, callbacks, mistakes, thenability,
  iteration, generics, optionals, anyAndUnknown, functionsAndInference]

test('types compile (checked by tsc --noEmit)', () => {
  assert.ok(true)
})

test.run()
