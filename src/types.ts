// Public types: Remote<T>, RemotePromise<T> and the one option shape every connection takes.
// No run-time code here.
import type { Registry } from './protocol/registry.ts'
import type { Readable, Writable } from 'node:stream'
import type { ReadableStream as WebReadable, WritableStream as WebWritable } from 'node:stream/web'

/**
 * What can be moved across a transport instead of copied (Node's worker_threads transfer list).
 * Here so that the codec (which collects transfer() marks) and the transports (which hand them to
 * postMessage) share one definition without the codec depending on the transports.
 */
export type Transferable = ArrayBuffer | import('node:worker_threads').MessagePort

/** Limits a side sets on what its peer may make it do; crossing one is a clear error. */
export interface Limits {
  /**
   * Largest frame a stream transport accepts, in bytes; the peer is told in the handshake and
   * splits its batches to fit. Default 64 MiB.
   */
  maxFrameBytes?: number
  /** Most objects and results this side holds for the peer at once. Default 1,000,000. */
  maxExports?: number
  /** Most peer operations running here at once; more are refused. Default 100,000. */
  maxInFlight?: number
  /** How long to wait for the peer's handshake, in ms. Default 30,000. */
  handshakeTimeout?: number
  /**
   * Largest frame a stream transport accepts before the handshake is done (and, with a secret,
   * before the peer proved it): a stranger makes this side buffer no more. Default 16 KiB.
   */
  handshakeBytes?: number
  /**
   * Bytes waiting to be written to a peer that does not read them (stream transports), past
   * which the connection closes with ProtocolError. Default 128 MiB (two of the largest frames).
   */
  maxOutgoingBytes?: number
  /** Names the peer may attach in this side's registry at once (removed when it leaves). Default 100. */
  maxAttached?: number
  /** Connections a `listen()` server keeps open at once; more are turned away. Default 1000. */
  maxConnections?: number
  /**
   * Streams crossing this connection at once, each way: this side's streams the peer holds and
   * the peer's streams held here. One more is a TypeError for what sends it, or, from the peer,
   * a ProtocolError for the connection. Default 1024.
   */
  maxStreams?: number
  /**
   * The most of one stream's data that may be on its way to this side before its reader takes it,
   * in bytes (the credit window; an object-mode chunk counts 1 KiB). A window starts at 64 KiB (or
   * twice the stream's highWaterMark) and doubles, up to this, when the reader runs dry; while
   * calls cross the connection it is at most 32 KiB, so answers do not wait behind bulk data.
   * Larger suits long round trips (a far network); smaller holds less in memory. Default 1 MiB.
   */
  streamWindow?: number
}

/** Options of every connection, the same shape for pair, connectPort, worker, serveParent, ... */
export interface ConnectionOptions {
  /** The object this side serves to its peer (the peer's `conn.root`). */
  root?: object
  /** Let the peer set properties on this side's objects. Default false. */
  allowSet?: boolean
  /** Let the peer delete properties on this side's objects. Default false. */
  allowDelete?: boolean
  /**
   * Serve classic mode to the peer (RPyC's SlaveService): `conn.modules`, `eval`, `execute`,
   * `run`, `upload`/`download` and `redirectStdio` from its side. Full remote code execution, for
   * trusted peers only. Default false.
   */
  classic?: boolean
  /** Send error stacks to the peer. Default true (false for servers made by listen()). */
  stacks?: boolean
  /**
   * Append the local async call chain (the functions awaiting the call) to a remote error's stack.
   * Costs one promise reaction per awaited call; the stack is taken only when a call fails.
   * Default true.
   */
  localStacks?: boolean
  /** Limits on what the peer may make this side do. */
  limits?: Limits
  /** This side's named exports; pass one Registry to several connections to share it. */
  registry?: Registry
  /**
   * Default time limit of every operation this side sends, in ms: past it the operation rejects
   * with TimeoutError and the peer is told to cancel it. Default: none. Per call: withOptions().
   */
  timeout?: number
  /**
   * A peer silent for this long (ms) is taken for frozen or gone: the connection closes with a
   * TimeoutError as the cause. `false` turns it off. Default 15,000 over sockets and child
   * processes (fork, spawn, connect, listen, connectStream), off in-process (pair, connectPort,
   * worker).
   */
  heartbeat?: number | false
  /**
   * A shared secret (a non-empty string or bytes): the handshake then runs a mutual HMAC-SHA256
   * challenge–response, and a peer with another secret, or none, fails at once with
   * AuthenticationError on both sides. The secret never crosses. A function instead gives the
   * secret for the user name the peer sent (listen()'s `users` becomes one); undefined, a throw or
   * a rejection refuses the peer as a wrong secret would. Default: none.
   */
  secret?: string | Uint8Array | ((peerUser: string | undefined) => string | Uint8Array | undefined | Promise<string | Uint8Array | undefined>)
  /** The user name this side authenticates as (needs `secret`); the peer sees it as `conn.peerUser`. */
  user?: string
}

/** Per-operation options: `withOptions(remote, options)`, `conn.ping(options)`. */
export interface CallOptions {
  /** Time limit in ms; past it the operation rejects with TimeoutError and is cancelled. */
  timeout?: number
  /** Aborting it rejects the operation with AbortError and cancels it on the peer. */
  signal?: AbortSignal
}

// ---------------------------------------------------------------------------------------------
// Remote<T>, RemotePromise<T>, Settled<T>, Arg<T>: the static picture of what the proxies do.
//
// These types are a model of run-time behaviour, and where the type system cannot see what the
// run time sees they guess; the guesses are listed here so that nobody has to rediscover them.
// - By value or by reference is decided at run time by prototype; here by shape: an object type
//   with a function-valued member is taken for a class instance (by reference, a Remote), one
//   without for plain data (by value). A plain object literal with a method therefore types as a
//   Remote although it arrives as a copy (reads and calls through it still work once awaited:
//   `await x.name` of a string is the string), and a class whose instances have no methods types
//   as plain data although it arrives as a Remote.
// - A method's overloads collapse to the last one (what `infer` sees): `f(x: string): string;
//   f(x: number): number` is callable remotely only as `f(x: number)`. Generic methods lose their
//   type parameters, which become their constraints: `echo<X>(x: X): X` is `(x: unknown) =>
//   RemotePromise<unknown>`. Cast, or give the remote object a non-generic interface.
// - Members are read-only: `r.prop = v` works at run time but cannot be typed (a mapped type
//   cannot give a property different read and write types); use `set(r, 'prop', v)`.
// - Pipelining goes through `undefined`: `r.maybeNode.value` is allowed when `maybeNode` is
//   optional, and rejects with TypeError at run time if it is missing (`?.` cannot help: a
//   RemotePromise is never undefined). It does not go through by-value leaves (strings, dates,
//   ...), nor through a union of unrelated types: await and narrow first.
// - With `noUncheckedIndexedAccess`, an index signature member reads as `RemotePromise<V> |
//   undefined` (`r.list()[0]`), although the proxy is always there.
// - Members TypeScript gives every object or function (`toString`, `valueOf`, `name`, `length`,
//   ...) keep their local types, although on a proxy they are remote operations like any other
//   (`await r.fn.name` still gives the string). `bind`, `call` and `apply` are what their types
//   say: the proxy does them locally (with the owner, undefined or null as `this`). The ones the
//   access policy refuses (`constructor`, `prototype`, `caller`, `arguments`) are typed `never`.
// ---------------------------------------------------------------------------------------------

/**
 * The brand of every Remote and RemotePromise: the type of the remote value it stands for. Only
 * declared, never present at run time; it lets `Arg<T>` accept a handle to a T and lets functions
 * like `obtain(r)` infer T.
 */
declare const remoteOf: unique symbol

/** What Remotes and RemotePromises of a T have in common. */
interface RemoteHandle<T> {
  /** Type-level only: the remote value's type. */
  readonly [remoteOf]: T
  /** Releases the remote object (or pending result) now: `release(r)`, for `using`. */
  [Symbol.dispose](): void
  /**
   * Refused by the access policy (AccessError). Declared `never` because every object type has a
   * `constructor` in TypeScript: this keeps `r.constructor.constructor('return process')()` from
   * compiling.
   */
  readonly constructor: never
}

/** Function members that are refused remotely, declared `never` for the same reason. */
interface RefusedFunctionMembers {
  readonly prototype: never
  readonly caller: never
  readonly arguments: never
}

/** Whether T is `any` (which would otherwise take both branches of every conditional type). */
type IsAny<T> = 0 extends 1 & T ? true : false

/**
 * `any` for `any`, else `unknown`: intersected with a type, makes it `any` for `any` and leaves it
 * alone otherwise, while the intersection keeps its alias name in editors and error messages
 * (`Remote<Node>` rather than its expansion).
 */
type AnyIfAny<T> = IsAny<T> extends true ? any : unknown

type Primitive = string | number | boolean | bigint | symbol | undefined | null | void

/** Kinds that cross by value and are not looked into: they arrive as themselves. */
/** Streams cross as streams of the same kind (a Transform arrives as a Duplex; typed as sent). */
type StreamLike = Readable | Writable | WebReadable | WebWritable | ReadableStream | WritableStream
type Leaf = Primitive | Date | RegExp | ArrayBufferLike | ArrayBufferView | Error

type AnyFunction = (...args: any[]) => any
type AnyConstructor = abstract new (...args: any[]) => any

/** Whether a member's type is a function or class (optional ones included; `any` excluded). */
type IsCallable<V> = IsAny<V> extends true
  ? false
  : [NonNullable<V>] extends [never]
    ? false
    : NonNullable<V> extends AnyFunction | AnyConstructor
      ? true
      : false

/** Has a method: a class instance by the type system's best guess, so it crosses by reference. */
type HasMethod<T> = true extends { [K in keyof T]-?: IsCallable<T[K]> }[keyof T] ? true : false

/**
 * How a remote value of type T arrives here (what awaiting a `RemotePromise<T>` gives, and what a
 * local callback receives): by-value kinds as themselves, deeply (fresh copies, so `readonly` is
 * dropped); functions, classes and class instances as Remotes; a promise inside by-value data as
 * a local Promise of its settled value (a call's or read's own result is awaited over there, so a
 * `RemotePromise<Promise<X>>` gives `Settled<X>`).
 *
 * @example Settled<{ at: Date; owner: User; tags: readonly string[] }>
 *   // { at: Date; owner: Remote<User>; tags: string[] }
 */
export type Settled<T> = IsAny<T> extends true ? any : SettledValue<T>

type SettledValue<T> = T extends Leaf
  ? LeafCopy<T>
  : T extends StreamLike
    ? T
  : T extends AnyFunction | AnyConstructor
    ? Remote<T>
    : T extends PromiseLike<infer U>
      ? Promise<Settled<U>>
      : T extends readonly unknown[]
        ? { -readonly [I in keyof T]: Settled<T[I]> }
        : T extends ReadonlyMap<infer K, infer V>
          ? Map<Settled<K>, Settled<V>>
          : T extends ReadonlySet<infer E>
            ? Set<Settled<E>>
            : T extends object
              ? [keyof T] extends [never]
                ? T
                : HasMethod<T> extends true
                  ? Remote<T>
                  : { -readonly [K in keyof T]: Settled<T[K]> }
              : T

/**
 * A leaf as it arrives: itself, except a Node `Buffer`, which structured clone (MessagePort,
 * worker) turns into a plain Uint8Array; typed as that, the part every transport keeps.
 */
type LeafCopy<T> = T extends Uint8Array ? ('readUInt8' extends keyof T ? Uint8Array : T) : T

/**
 * What may be passed for a remote parameter of type T: a local T, or a Remote or RemotePromise of
 * one (a reference goes back; a pending result is pipelined). Deeply: an array, Map, Set or object
 * may hold Remotes in place of its members, and a function parameter takes a local callback, which
 * receives its arguments as they arrive here (`Settled`) and may return a promise. The same holds
 * for the methods of an object passed (an options bag with callbacks, or a class instance, which
 * crosses by reference: the far side calls its methods with arguments that arrive as Settled).
 *
 * @example Arg<(n: Node) => number>
 *   // ((n: Remote<Node>) => number | PromiseLike<number>) | (a Remote of such a function)
 */
export type Arg<T> = AnyIfAny<T> & (ArgValue<T> | RemoteHandle<T>)

type ArgValue<T> = T extends Leaf
  ? T
  : T extends StreamLike
    ? T // a local stream crosses as a stream
  : T extends AnyFunction
    ? LocalFunction<T>
    : T extends AnyConstructor
      ? T
      : T extends PromiseLike<infer U>
        ? PromiseLike<Arg<U>>
        : T extends readonly unknown[]
          ? { [I in keyof T]: Arg<T[I]> }
          : T extends Map<infer K, infer V>
            ? Map<Arg<K>, Arg<V>>
            : T extends ReadonlyMap<infer K, infer V>
              ? ReadonlyMap<Arg<K>, Arg<V>>
              : T extends Set<infer E>
                ? Set<Arg<E>>
                : T extends ReadonlySet<infer E>
                  ? ReadonlySet<Arg<E>>
                  : T extends object
                    ? [keyof T] extends [never]
                      ? T
                      : { [K in keyof T]: Arg<T[K]> }
                    : T

/** The arguments of a remote call, each an `Arg`. */
type Args<A extends readonly unknown[]> = { [I in keyof A]: Arg<A[I]> }

/** A local function passed where the far side expects F: it is called with settled arguments. */
type LocalFunction<F> = F extends (...args: infer A) => infer R
  ? (...args: { [I in keyof A]: Settled<A[I]> }) => LocalReturn<R>
  : never

type LocalReturn<R> = [R] extends [void] ? void : Arg<Awaited<R>> | PromiseLike<Arg<Awaited<R>>>

/**
 * Names a Remote does not show: those the access policy refuses (`_private`, `constructor`, ...),
 * `then`, which would make a settled Remote thenable, and `toJSON`, which a Remote keeps for
 * itself so that `JSON.stringify(r)` throws a clear TypeError (read such members with `get()`).
 */
type Hidden = 'then' | 'toJSON' | 'constructor' | 'prototype' | 'caller' | 'callee' | 'arguments'

/** Names a pending result keeps for itself, as a promise (`catch`, `finally`): use `get()`. */
type PromiseNames = 'catch' | 'finally'

/** The member names a Remote shows: string and number keys the policy lets through. */
type Visible<K> = K extends Hidden | `_${string}` ? never : K extends string | number ? K : never

/** The members of a remote object: each read is a RemotePromise, callable if it is a method. */
type RemoteMembers<T> = { readonly [K in keyof T as Visible<K>]-?: RemotePromise<T[K]> }

/**
 * Call and construct signatures of a remote function or class, results as RemotePromises. With
 * overloads, `infer` sees only the last signature; generic signatures lose their type parameters.
 */
type Invocable<T> = (T extends (...args: infer A) => infer R
  ? ((...args: Args<A>) => RemotePromise<Awaited<R>>) & RefusedFunctionMembers
  : unknown) &
  (T extends new (...args: infer A) => infer R ? (new (...args: Args<A>) => RemotePromise<R>) & RefusedFunctionMembers : unknown)

/** The element type of an iterable, async iterable, iterator or generator; never if none. */
type ElementOf<T> = T extends AsyncIterable<infer E>
  ? E
  : T extends Iterable<infer E>
    ? E
    : T extends AsyncIterator<infer E>
      ? E
      : T extends Iterator<infer E>
        ? E
        : never

/** `for await (const x of r)` over a remote iterable: buffered, elements settled. */
type AsyncIterableOf<T> = T extends string
  ? unknown
  : [ElementOf<T>] extends [never]
    ? unknown
    : { [Symbol.asyncIterator](): AsyncIterableIterator<Settled<ElementOf<T>>> }

/** What can be done on a pending result of type T without waiting for it. */
type Pipelined<T> = T extends Leaf ? unknown : Omit<RemoteMembers<T>, PromiseNames> & Invocable<T> & AsyncIterableOf<T>

/**
 * A handle to an object on the far side of a connection (a settled Remote: `conn.root`, or what
 * awaiting a RemotePromise of a by-reference kind gives).
 * - `r.prop` is a `RemotePromise<T['prop']>`; `r.method(a, b)` a `RemotePromise` of its awaited
 *   result; `new r.Class(x)` a `RemotePromise` of the instance. Misspelt names, wrong argument
 *   types or counts and calls of non-functions are compile errors.
 * - Arguments: see `Arg`. Names the access policy refuses (`_x`, `then`, ...) are absent, and
 *   `constructor` is `never`. Members are read-only: set with `set(r, 'prop', v)`.
 * - A settled Remote is not thenable: `await r` is `r`.
 * - `for await (const x of r)` if T is iterable; `r[Symbol.dispose]()` releases it.
 * - `Remote<any>` is `any`: anything goes, unchecked. `Remote<unknown>` shows nothing.
 * - The guesses this type makes (overloads, generics, by value or by reference, ...) are listed
 *   at the top of the Remote types in src/types.ts.
 *
 * @example
 * const root = conn.root as Remote<Service>
 * const value: number = await root.makeNode(1).child(0).value // one round trip
 * const node: Remote<Node> = await root.makeNode(1)
 */
export type Remote<T> = AnyIfAny<T> & RemoteMembers<T> & Invocable<T> & AsyncIterableOf<T> & RemoteHandle<T>

/**
 * The pending result of a remote operation whose value has type T. Await it for `Settled<T>`: the
 * value (by-value kinds) or a Remote (by-reference kinds). Or keep operating on it as on a Remote
 * (through `undefined`, see above): those operations are pipelined, sent without waiting.
 * `then`, `catch` and `finally` are local, as on any promise (read remote members of those names
 * with `get()`).
 */
export type RemotePromise<T> = AnyIfAny<T> &
  Promise<Settled<Awaited<T>>> &
  Pipelined<NonNullable<Awaited<T>>> &
  RemoteHandle<Awaited<T>>
