// Classic mode's stdio tap on the serving side: while any peer has redirected it, what this
// process writes to process.stdout and process.stderr (console.* included) goes to those peers
// instead. One tap per process, whatever the number of connections.

/** Receives one write: which stream, and the text. */
export type Sink = (stream: 'stdout' | 'stderr', text: string) => void

const sinks = new Set<Sink>()
let saved: { stdout: typeof process.stdout.write; stderr: typeof process.stderr.write } | undefined
let patched: { stdout: typeof process.stdout.write; stderr: typeof process.stderr.write } | undefined
// a sink that itself writes to stdout (a debug log while sending) must not loop back into the tap
let inside = false

function tap(stream: 'stdout' | 'stderr', original: typeof process.stdout.write): typeof process.stdout.write {
  return function farsideTap(this: unknown, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    const cb = typeof encoding === 'function' ? encoding : callback
    // no sink (a later patch still calls us after the last stop) or a write from inside a sink
    if (inside || sinks.size === 0) return Reflect.apply(original, process[stream], [chunk, encoding, callback]) as boolean
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString(typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
    inside = true
    try {
      for (const sink of sinks) sink(stream, text)
    } finally {
      inside = false
    }
    if (typeof cb === 'function') queueMicrotask(() => (cb as () => void)())
    return true
  } as typeof process.stdout.write
}

/**
 * Sends this process's stdout and stderr writes to `sink` (and to any other sink added) until the
 * returned function is called; they then go where they went before. Idempotent stop.
 */
export function addSink(sink: Sink): () => void {
  sinks.add(sink)
  if (saved === undefined) {
    saved = { stdout: process.stdout.write, stderr: process.stderr.write }
    patched = { stdout: tap('stdout', saved.stdout), stderr: tap('stderr', saved.stderr) }
    process.stdout.write = patched.stdout
    process.stderr.write = patched.stderr
  }
  return () => {
    if (!sinks.delete(sink) || sinks.size > 0 || saved === undefined) return
    // put back only what is still ours: code that patched the streams after us keeps its patch
    if (process.stdout.write === patched!.stdout) process.stdout.write = saved.stdout
    if (process.stderr.write === patched!.stderr) process.stderr.write = saved.stderr
    saved = patched = undefined
  }
}
