// Public types: Remote<T>, RemotePromise<T> and the one option shape every connection takes.
// No run-time code here.
import type { Registry } from './protocol/registry.ts'

/** Limits a side sets on what its peer may make it do; crossing one is a clear error. */
export interface Limits {
  /** Largest frame a stream transport accepts, in bytes. Default 64 MiB. */
  maxFrameBytes?: number
  /** Most objects and results this side holds for the peer at once. Default 1,000,000. */
  maxExports?: number
  /** Most peer operations running here at once; more are refused. Default 100,000. */
  maxInFlight?: number
  /** How long to wait for the peer's handshake, in ms. Default 30,000. */
  handshakeTimeout?: number
}

/** Options of every connection, the same shape for pair, connectPort, worker, serveParent, ... */
export interface ConnectionOptions {
  /** The object this side serves to its peer (the peer's `conn.root`). */
  root?: object
  /** Let the peer set properties on this side's objects. Default false. */
  allowSet?: boolean
  /** Let the peer delete properties on this side's objects. Default false. */
  allowDelete?: boolean
  /** Send error stacks to the peer. Default true (false for servers made by listen()). */
  stacks?: boolean
  /**
   * Capture the local stack at each remote call, so a remote error's stack ends with the place
   * that made the call. Costs ~2 µs a call. Default false.
   */
  localStacks?: boolean
  /** Limits on what the peer may make this side do. */
  limits?: Limits
  /** This side's named exports; pass one Registry to several connections to share it. */
  registry?: Registry
}

type Primitive = string | number | boolean | bigint | symbol | undefined | null
type Leaf = Primitive | Date | RegExp | ArrayBuffer | ArrayBufferView | Error

/** A function or class: crosses by reference. */
type Callable = ((...args: any[]) => any) | (abstract new (...args: any[]) => any)

/** Has a method: a class instance, by the type system's best guess, so it crosses by reference. */
type HasMethod<T> = { [K in keyof T]-?: T[K] extends Callable ? true : never }[keyof T] extends never ? false : true

/**
 * What awaiting a remote value of type T gives: by-value kinds as themselves (deeply), functions,
 * class instances and promises' values of those as Remotes.
 */
export type Settled<T> = T extends Leaf
  ? T
  : T extends Callable
    ? Remote<T>
    : T extends PromiseLike<infer U>
      ? Settled<U>
      : T extends readonly (infer E)[]
        ? Settled<E>[]
        : T extends Map<infer K, infer V>
          ? Map<Settled<K>, Settled<V>>
          : T extends Set<infer E>
            ? Set<Settled<E>>
            : T extends object
              ? HasMethod<T> extends true
                ? Remote<T>
                : { [K in keyof T]: Settled<T[K]> }
              : T

/** What a local argument of type T may be: the value itself, or a Remote of it. */
export type Arg<T> = T | Remote<T> | RemotePromise<T>

type Args<A extends readonly unknown[]> = { [I in keyof A]: Arg<A[I]> }

type RemoteFunctionPart<T> = T extends (...args: infer A) => infer R ? (...args: Args<A>) => RemotePromise<Awaited<R>> : unknown
type RemoteClassPart<T> = T extends abstract new (...args: infer A) => infer R ? new (...args: Args<A>) => RemotePromise<R> : unknown

/** Names the access policy hides: `_private` members. */
type Visible<K> = K extends `_${string}` ? never : K extends string | number ? K : never

/** The members of a remote object: methods give promises, properties give RemotePromises. */
type RemoteMembers<T> = {
  readonly [K in keyof T as Visible<K>]: T[K] extends (...args: infer A) => infer R
    ? ((...args: Args<A>) => RemotePromise<Awaited<R>>) & RemotePromiseMembers<T[K]>
    : RemotePromise<T[K]>
}

type RemotePromiseMembers<T> = T extends Leaf ? unknown : RemoteMembers<T>

/**
 * A handle to an object on the far side of a connection. Property reads give RemotePromises,
 * method calls give RemotePromises of their results; a settled Remote is not itself thenable.
 */
export type Remote<T> = RemoteMembers<T> &
  RemoteFunctionPart<T> &
  RemoteClassPart<T> &
  AsyncIterableOf<T> & { readonly [Symbol.dispose]: () => void; readonly then?: undefined }

/**
 * The pending result of a remote operation: await it for the value (by-value kinds) or a Remote
 * (by-reference kinds), or keep operating on it: those operations are pipelined.
 */
export type RemotePromise<T> = PromiseLike<Settled<T>> &
  Promise<Settled<T>> &
  (T extends Leaf ? unknown : RemoteMembers<T> & RemoteFunctionPart<T> & RemoteClassPart<T>) &
  AsyncIterableOf<T>

type AsyncIterableOf<T> = T extends AsyncIterable<infer E> | Iterable<infer E>
  ? T extends string
    ? unknown
    : { [Symbol.asyncIterator](): AsyncIterableIterator<Settled<E>> }
  : unknown
