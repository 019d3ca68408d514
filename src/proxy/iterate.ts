// Buffered iteration of remote iterables, over the proxy host interface only.
import { handleOf, type Handle, type IterOptions, type ProxyHost } from './handle.ts'

/**
 * A buffered async iterator over a remote iterable (RPyC buffiter): one `next` op per chunk, the
 * chunks growing geometrically; return() closes the remote iterator. Throws RangeError for bad
 * options.
 */
export function bufferedIterator(host: ProxyHost, h: Handle, options: IterOptions = {}): AsyncIterableIterator<unknown> {
  let chunk = options.chunk ?? 2
  const max = options.max ?? 1000
  const factor = options.factor ?? 2
  for (const [name, v] of [['chunk', chunk], ['max', max], ['factor', factor]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`buffiter ${name} must be a positive integer, not ${v}`)
  }
  // the most one `next` may ask for (protocol/messages.ts MAX_NEXT; the proxy layer cannot import it)
  if (max > 100_000) throw new RangeError(`buffiter max must be at most 100000, not ${max}`)
  if (chunk > max) chunk = max
  const it = host.op('iter', h)
  const itHandle = handleOf(it)!
  let buffer: unknown[] = []
  let index = 0
  let finished = false
  const finish = () => {
    finished = true
    host.release(itHandle)
  }
  // closing must reach the peer even when the loop's signal is what ended it
  const close = () => host.op('next', { ...itHandle, opts: undefined }, [0]) as PromiseLike<unknown>
  const iterator: AsyncIterableIterator<unknown> = {
    next: async () => {
      while (index >= buffer.length) {
        if (finished) return { done: true, value: undefined }
        let result: [unknown[], boolean]
        try {
          result = (await (host.op('next', itHandle, [chunk]) as PromiseLike<unknown>)) as [unknown[], boolean]
        } catch (err) {
          // cancelled (signal, timeout) mid-iteration: the remote iterator is still open; close it
          if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError') && !finished) {
            Promise.resolve(close()).then(finish, finish)
          } else finish()
          throw err
        }
        // what a peer answers is checked before it is walked: [items (no more than asked), done]
        if (!Array.isArray(result) || !Array.isArray(result[0]) || result[0].length > chunk) {
          finish()
          throw new TypeError('the peer answered next() with something other than [items, done]')
        }
        chunk = Math.min(chunk * factor, max)
        buffer = result[0]
        index = 0
        if (result[1]) finish()
      }
      return { done: false, value: buffer[index++] }
    },
    return: async (value?: unknown) => {
      if (!finished) {
        buffer = []
        try {
          await close()
        } finally {
          finish()
        }
      }
      return { done: true, value }
    },
    [Symbol.asyncIterator]() {
      return iterator
    },
  }
  return iterator
}
