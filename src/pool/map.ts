// Pool.map(): results in input order with a bounded number of calls out, reading the input
// lazily; leaving the loop early aborts what is still out and closes the input.
import { AbortError, unknownOption } from '../errors.ts'

/** Options of Pool.map(). */
export interface MapOptions {
  /** Most calls out at once. Default 256. */
  concurrency?: number
  /** Aborting it aborts the calls still out and ends the loop with AbortError. */
  signal?: AbortSignal
}

const KEYS = ['concurrency', 'signal']
const noop = () => {}

/**
 * Yields `call(item, signal)`'s results in the order of `items`, with at most `concurrency`
 * calls out. Throws TypeError for bad options (at the first `next()`, as a generator does).
 */
export async function* mapInOrder<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  options: MapOptions,
  call: (item: T, signal: AbortSignal) => Promise<R>,
): AsyncGenerator<R, void, undefined> {
  if (options === null || typeof options !== 'object') throw new TypeError('map() options must be { concurrency?, signal? }')
  for (const k of Object.keys(options)) if (!KEYS.includes(k)) throw unknownOption('map option', k, KEYS)
  const concurrency = options.concurrency ?? 256
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new TypeError('map() concurrency must be a whole number, at least 1')
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new TypeError('map() signal must be an AbortSignal')
  const source = items as Partial<AsyncIterable<T> & Iterable<T>>
  const it: Iterator<T> | AsyncIterator<T> | undefined = source[Symbol.asyncIterator]?.() ?? source[Symbol.iterator]?.()
  if (it === undefined) throw new TypeError('map() needs an iterable or async iterable of items')
  // ours aborts what is out when the loop ends early; the caller's aborts everything
  const stop = new AbortController()
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal])
  const out: Promise<R>[] = []
  let exhausted = false
  try {
    for (;;) {
      while (!exhausted && out.length < concurrency) {
        if (options.signal?.aborted) throw new AbortError('map() was aborted', { cause: options.signal.reason })
        const next = await it.next()
        if (next.done === true) {
          exhausted = true
          break
        }
        const p = call(next.value, signal)
        // its failure is thrown when its turn comes; until then nobody awaits it
        p.catch(noop)
        out.push(p)
      }
      const first = out.shift()
      if (first === undefined) return
      yield await first
    }
  } finally {
    stop.abort()
    if (!exhausted) await it.return?.()
  }
}
