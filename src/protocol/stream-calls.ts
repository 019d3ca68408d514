// How a connection's streams yield to calls: whether calls crossed it lately, read from a count
// the rest of the connection moves with every call made or served (no clock read per call), and
// the producers whose credit came meanwhile, woken a turn of the event loop late.
import type { End } from './stream-state.ts'

/** How long after the last call seen the streams still yield to calls. */
const CALM_MS = 10

export class CallWatch {
  #count: () => number
  /** The count last seen, and when it last moved. */
  #seen = 0
  #at = -Infinity
  #waking = new Set<End>()

  constructor(count: () => number) {
    this.#count = count
  }

  /**
   * Notes when the count moved: about now, if it moved since the last look. Looked at by every
   * flush while streams are open, so a call long past does not read as a recent one.
   */
  look(): void {
    const n = this.#count()
    if (n === this.#seen) return
    this.#seen = n
    this.#at = performance.now()
  }

  /** Whether calls crossed the connection in the last CALM_MS (either way). */
  calling(): boolean {
    this.look()
    return performance.now() - this.#at < CALM_MS
  }

  /**
   * Credit reached the End while calls cross: its producer is asked for more on the next turn of
   * the event loop, so a call that came with the credit, or right behind it, is answered before
   * the next chunk is made (a producer's chunk and its send take tens of µs; a call waits for them).
   */
  wakeSoon(end: End): void {
    if (this.#waking.size === 0) setImmediate(this.#wake)
    this.#waking.add(end)
  }

  #wake = (): void => {
    const ends = [...this.#waking]
    this.#waking.clear()
    for (const end of ends) if (!end.closed && end.outOpen && end.held.length === 0 && end.credit > 0) end.ready?.()
  }
}
