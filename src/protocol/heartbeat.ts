// Finds a frozen or partitioned peer: when nothing has come for a third of the heartbeat, ask the
// peer to answer; when nothing has come for the whole heartbeat, give up on the connection.
import { TimeoutError } from '../errors.ts'

export class Heartbeat {
  /** Frames received; bumped on the hot path, so a counter rather than a clock read. */
  frames = 0
  #ms: number
  #timer: ReturnType<typeof setInterval> | undefined

  /**
   * @param ms how long the peer may be silent
   * @param probe sends a BEAT that the peer must answer
   * @param dead called once, with a TimeoutError, when the peer was silent for `ms`
   */
  constructor(ms: number, probe: () => void, dead: (err: TimeoutError) => void) {
    this.#ms = ms
    const every = Math.max(1, Math.floor(ms / 3))
    let counted = this.frames
    let quietSince = performance.now()
    this.#timer = setInterval(() => {
      const now = performance.now()
      if (this.frames !== counted) {
        counted = this.frames
        quietSince = now
        return
      }
      if (now - quietSince >= this.#ms) {
        this.stop()
        dead(new TimeoutError(`the peer sent nothing for ${this.#ms} ms (heartbeat): frozen, gone or cut off`))
      } else probe()
    }, every)
    // a heartbeat alone must not keep the process alive
    this.#timer.unref?.()
  }

  /** Stops the timer. Idempotent. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }
}
