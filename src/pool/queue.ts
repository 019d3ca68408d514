// The pool's queue of calls waiting for a worker: first in, first out, with removal of a call
// aborted while it waits.
import type { Slot } from './slot.ts'

/** One run() or create() call. */
export interface Job {
  kind: 'run' | 'create'
  name: string
  args: unknown[]
  signal: AbortSignal | undefined
  onAbort?: () => void
  resolve(value: unknown): void
  reject(error: unknown): void
  /** The worker it was sent to; undefined while queued. */
  slot: Slot | undefined
  /** When it was sent (performance.now()). */
  sent: number
  /** Settled: later answers are ignored. */
  done: boolean
}

export class Queue {
  #items: Job[] = []
  #head = 0

  get size(): number {
    return this.#items.length - this.#head
  }

  push(job: Job): void {
    this.#items.push(job)
  }

  peek(): Job | undefined {
    return this.#items[this.#head]
  }

  shift(): Job | undefined {
    if (this.#head >= this.#items.length) return undefined
    const job = this.#items[this.#head++]
    // compact now and then, so a long-running queue does not keep what it has handed out
    if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head)
      this.#head = 0
    }
    return job
  }

  /** Takes `job` out (aborted while it waited); O(n), which aborts can afford. */
  remove(job: Job): void {
    const i = this.#items.indexOf(job, this.#head)
    if (i >= 0) this.#items.splice(i, 1)
  }
}
