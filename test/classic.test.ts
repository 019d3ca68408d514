// Classic mode (RPyC's SlaveService) over pair, fork, spawn-stdio and TCP: modules, the shared
// eval/execute namespace, teleported functions, file transfer, stdio redirection, and the
// refusal of all of it by a peer that does not serve classic mode.
import { suite, test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { AccessError, connect, download, listen, pair, redirectStdio, upload, type Connection, type ListenOptions } from '../src/index.ts'
import { freeNames } from '../src/classic/scope.ts'
import { rejects, tsFork, tsSpawn, within } from './harness.ts'

interface Peer {
  conn: Connection
  /** Whether the serving side is another process. */
  remote: boolean
  close(): Promise<void>
}

async function overTcp(options: ListenOptions): Promise<Peer> {
  const server = await listen({ host: '127.0.0.1', port: 0 }, options)
  const conn = await connect(server.address as { host: string; port: number }, options.limits ? { limits: options.limits } : {})
  return { conn, remote: false, close: async () => { await conn.close(); await server.close() } }
}

const classicPeers: { name: string; start(): Promise<Peer> }[] = [
  {
    name: 'pair',
    async start() {
      const [conn] = pair({}, { classic: true })
      await conn.ready
      return { conn, remote: false, close: () => conn.close() }
    },
  },
  { name: 'fork', start: async () => { const conn = await tsFork('classic-peer.ts'); return { conn, remote: true, close: () => conn.close() } } },
  { name: 'spawn-stdio', start: async () => { const conn = await tsSpawn('classic-peer.ts'); return { conn, remote: true, close: () => conn.close() } } },
  { name: 'tcp', start: () => overTcp({ classic: true }) },
]

/** A fresh directory under os.tmpdir(), removed by the test that made it. */
const tempDir = () => mkdtemp(join(tmpdir(), 'farside-classic-'))

for (const transport of classicPeers) {
  const t = suite<{ peer: Peer; conn: Connection }>(`classic/${transport.name}`)
  t.before(async (ctx) => {
    ctx.peer = await within(transport.start(), 20000, `starting ${transport.name}`)
    ctx.conn = ctx.peer.conn
  })
  t.after(async (ctx) => {
    await ctx.peer?.close()
  })

  t('modules: built-in and installed modules, loaded on the peer; a missing one is named', async ({ conn, peer }) => {
    assert.is(await conn.modules.os.hostname(), hostname())
    assert.is(await conn.modules['node:path'].join('a', 'b'), join('a', 'b'))
    const pid = await conn.modules.process.pid
    assert.is(pid === process.pid, !peer.remote, 'the module is the peer process\'s')
    // an installed ES-module-only package (tinypool), through import()
    assert.type(await conn.modules.tinypool.Tinypool, 'function')
    const err = await rejects(conn.modules['no-such-module-here'].x(), Error, 'a missing module')
    assert.match(err.message, /no module 'no-such-module-here'/)
    assert.is((err as { code?: unknown }).code, 'MODULE_NOT_FOUND')
  })

  t('eval and execute share one namespace per connection', async ({ conn }) => {
    await conn.execute('x = 41')
    assert.is(await conn.eval('x + 1'), 42)
    await conn.execute('const y = 2; function twice(n) { return n * 2 }')
    assert.is(await conn.eval('twice(y)'), 4)
    // the namespace's own objects cross by value as any would
    assert.equal(await conn.eval('({ a: [1, { b: new Date(0) }], m: new Map([[1, 2]]) })'), { a: [1, { b: new Date(0) }], m: new Map([[1, 2]]) })
    assert.is(await conn.eval('Promise.resolve(5)'), 5)
    assert.is(await conn.eval('typeof require + typeof console + typeof process + typeof Buffer + typeof setTimeout'), 'functionobjectobjectfunctionfunction')
    assert.is(await conn.eval("require('node:os').hostname()"), hostname())
    const thrown = await rejects(conn.eval('nope + 1'), ReferenceError, 'an undefined name')
    assert.match(thrown.message, /nope is not defined/)
    await rejects(conn.eval('const z = 1'), SyntaxError, 'a statement is no expression')
    await rejects(conn.execute('throw new RangeError("bad")'), RangeError, 'a throw in execute')
    // a function made over there crosses by reference and can be called from here
    const inc = await conn.eval('(n) => n + 1')
    assert.is(await inc(1), 2)
  })

  t('run teleports a function: defaults, async, arrows, methods, callbacks home', async ({ conn, peer }) => {
    assert.is(await conn.run((a: number, b = 2) => a + b, 40), 42)
    assert.is(await conn.run(async function add(a: number, b: number) { await new Promise((r) => setImmediate(r)); return a + b }, 1, 2), 3)
    const pid = await conn.run(() => process.pid)
    assert.is(pid === process.pid, !peer.remote)
    const o = { twice(n: number) { return n * 2 } }
    assert.is(await conn.run(o.twice, 4), 8)
    assert.is(await conn.run((cb: (n: number) => number) => cb(1), (n: number) => n + 10), 11)
    // nested functions and classes compiled by tsx (esbuild's __name helper) teleport too
    assert.is(await conn.run((n: number) => { const inner = (m: number) => m + 1; class K { v = inner(n) } return new K().v }, 1), 2)
    // the namespace is there
    await conn.execute('shared = 7')
    assert.is(await conn.run(() => (globalThis as any).shared + 1), 8)
  })

  t('run refuses a closure, naming the variable, before running anything', async ({ conn }) => {
    const local = 5
    const err = await rejects(conn.run(() => { (globalThis as any).ran = true; return local }), ReferenceError, 'a closure')
    assert.match(err.message, /'local'/)
    assert.is(await conn.eval('typeof ran'), 'undefined', 'nothing ran')
    const other = 1
    const two = await rejects(conn.run((a = other) => a + local), ReferenceError, 'closures in defaults')
    assert.match(two.message, /'other', 'local'/)
    await rejects(conn.run(Math.max), TypeError, 'a native function')
  })

  t('upload and download files and directories, in chunks', async ({ conn }) => {
    const dir = await tempDir()
    try {
      const src = join(dir, 'src')
      await mkdir(join(src, 'sub', 'deeper'), { recursive: true })
      const big = randomBytes(2.5 * 1024 * 1024)
      await writeFile(join(src, 'big.bin'), big)
      await writeFile(join(src, 'sub', 'a.txt'), 'alpha')
      await writeFile(join(src, 'sub', 'deeper', 'empty'), '')
      await upload(conn, src, join(dir, 'up'))
      assert.ok((await readFile(join(dir, 'up', 'big.bin'))).equals(big))
      assert.is(await conn.modules.fs.readFileSync(join(dir, 'up', 'sub', 'a.txt'), 'utf8'), 'alpha')
      await download(conn, join(dir, 'up'), join(dir, 'down'))
      assert.ok((await readFile(join(dir, 'down', 'big.bin'))).equals(big))
      assert.is(await readFile(join(dir, 'down', 'sub', 'a.txt'), 'utf8'), 'alpha')
      assert.is(await readFile(join(dir, 'down', 'sub', 'deeper', 'empty'), 'utf8'), '')
      // a single file, replacing what was there
      await writeFile(join(dir, 'one.txt'), 'one')
      await upload(conn, join(dir, 'one.txt'), join(dir, 'up', 'sub', 'a.txt'))
      assert.is(await readFile(join(dir, 'up', 'sub', 'a.txt'), 'utf8'), 'one')
      const missing = await rejects(download(conn, join(dir, 'nothing'), join(dir, 'x')), Error, 'a missing remote path')
      assert.match(missing.message, /no such file or directory/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  t('redirectStdio shows the peer\'s output here until undone', async ({ conn }) => {
    const out: string[] = []
    const err: string[] = []
    const undo = await redirectStdio(conn, { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } })
    try {
      await conn.execute('console.log("hello", "world"); process.stdout.write("raw\\n"); console.error("oops")')
      assert.equal(out, ["hello world\n", "raw\n"])
      assert.equal(err, ['oops\n'])
      assert.is(await conn.eval('process.stdout.write.name'), 'farsideTap')
    } finally {
      await undo()
    }
    await undo() // idempotent
    assert.is.not(await conn.eval('process.stdout.write.name'), 'farsideTap', 'undone on the peer')
  })

  t.run()
}

// ---- a peer without classic: true refuses every part ----

const plainPeers: { name: string; start(): Promise<Peer> }[] = [
  { name: 'pair', start: async () => { const [conn] = pair({}, { root: {} }); await conn.ready; return { conn, remote: false, close: () => conn.close() } } },
  { name: 'fork', start: async () => { const conn = await tsFork('service-peer.ts'); return { conn, remote: true, close: () => conn.close() } } },
  { name: 'tcp', start: () => overTcp({ root: {} }) },
]

for (const transport of plainPeers) {
  test(`classic/refused/${transport.name}: without classic: true every part is an AccessError naming the option`, async () => {
    const peer = await within(transport.start(), 20000, `starting ${transport.name}`)
    try {
      const { conn } = peer
      const dir = await tempDir()
      try {
        await writeFile(join(dir, 'f'), 'x')
        const attempts: [string, () => PromiseLike<unknown>][] = [
          ['modules', () => conn.modules.os.hostname()],
          ['eval', () => conn.eval('1 + 1')],
          ['execute', () => conn.execute('x = 1')],
          ['run', () => conn.run(() => 1)],
          ['upload', () => upload(conn, join(dir, 'f'), join(dir, 'g'))],
          ['download', () => download(conn, join(dir, 'f'), join(dir, 'h'))],
          ['redirectStdio', () => redirectStdio(conn)],
        ]
        for (const [what, attempt] of attempts) {
          const err = await rejects(attempt(), AccessError, what)
          assert.is(err.message, 'the peer does not serve classic mode: it needs classic: true', what)
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }
      // the connection goes on serving what it does serve
      assert.ok((await conn.ping()) >= 0)
    } finally {
      await peer.close()
    }
  })
}

test('classic/tcp: each client of a classic server has its own namespace', async () => {
  const server = await listen({ host: '127.0.0.1', port: 0 }, { classic: true })
  const [a, b] = await Promise.all([connect(server.address as { host: string; port: number }), connect(server.address as { host: string; port: number })])
  try {
    await a.execute('mine = "a"')
    assert.is(await a.eval('mine'), 'a')
    assert.is(await b.eval('typeof mine'), 'undefined')
  } finally {
    await a.close()
    await b.close()
    await server.close()
  }
})

test('classic/tcp: a file larger than the frame limit crosses in chunks', async () => {
  const limits = { maxFrameBytes: 3 * 1024 * 1024 }
  const peer = await overTcp({ classic: true, limits })
  const dir = await tempDir()
  try {
    const big = randomBytes(8 * 1024 * 1024)
    await writeFile(join(dir, 'big'), big)
    await upload(peer.conn, join(dir, 'big'), join(dir, 'up'))
    await download(peer.conn, join(dir, 'up'), join(dir, 'down'))
    assert.ok((await readFile(join(dir, 'down'))).equals(big))
  } finally {
    await rm(dir, { recursive: true, force: true })
    await peer.close()
  }
})

test('classic: the option is a boolean', () => {
  assert.throws(() => pair({}, { classic: 'yes' as never }), (e: Error) => e instanceof TypeError && /options\.classic must be a boolean/.test(e.message))
})

test('classic: a redirection ends with its connection', async () => {
  const [a, b] = pair({}, { classic: true })
  const writes: string[] = []
  await redirectStdio(a, { stdout: { write: (s: string) => writes.push(s) } })
  assert.is(process.stdout.write.name, 'farsideTap')
  await a.close()
  await b.closed
  assert.is.not(process.stdout.write.name, 'farsideTap')
})

test('classic: free names of a function\'s source (the teleport check)', () => {
  const cases: [string, string[]][] = [
    ['async(a,b=2)=>{const inner=__name(()=>a,"inner");function g(){return 1}__name(g,"g");class K{static{__name(this,"K")}};return inner()+b+g()}', ['__name']],
    ['(a, b = x) => a + b', ['x']],
    ['function f(n) { return n ? n * f(n - 1) : y }', ['y']],
    ['() => { const o = { a: 1, b: z, c() { return q }, get d() { return 1 }, [k]: 2 }; return o.a.b?.c }', ['z', 'q', 'k']],
    ['() => { outer: for (const i of list) { if (i) continue outer; else break outer } }', ['list']],
    ['() => { class A extends Base { x = 1; static y = w; #p = 2; m() { return this.#p + x } static { s } } return new A() }', ['Base', 'w', 'x', 's']],
    ['() => `a ${b + `c ${d}`} e`', ['b', 'd']],
    ['({ a, b: [c, ...d] = e }, ...rest) => a + c + d + rest', ['e']],
    ['() => { try { t() } catch ({ message }) { return message } }', ['t']],
    ['() => { const set = new Set(); set.add(1); return get(set) }', ['Set', 'get']],
    ['() => set.add(1)', ['set']],
    ['() => { switch (v) { case A: return x ? y : z; default: return /re/g.test(s) } }', ['v', 'A', 'x', 'y', 'z', 's']],
    ['async function* gen() { yield await p; }', ['p']],
    ['m(x){return x + y}', ['y']],
    ['() => { let a = 1, [b, c] = arr, { d, e: f } = obj; return a + b + c + d + f }', ['arr', 'obj']],
    ['() => { var x = 1 / 2 / 3; return x }', []],
    ['() => new.target ?? import.meta', []],
    ["() => { const o = { class: 1, if: 2 }; return o.class + 'str\\'ing' /* c */ }", []],
    ['() => 1.5e+3 + 0x1F + 1_000n + .5', []],
    ['async (x) => { for (let i = 0; i < n; i++) { await x(i) } }', ['n']],
    ['() => cond ? { k: v } : w', ['cond', 'v', 'w']],
  ]
  for (const [src, want] of cases) assert.equal(freeNames(src), want, src)
  assert.throws(() => freeNames('() => "open'), SyntaxError)
})

test.run()
