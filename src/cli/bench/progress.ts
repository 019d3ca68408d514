// The progress bar: one redrawn line on stderr when it is a terminal, nothing otherwise (so a
// redirected or piped run stays clean).
import type { WriteStream } from 'node:tty'

export interface Progress {
  /** Starts step `label` (counts the previous one done). */
  step(label: string): void
  /** Marks `n` steps done without running them (a skipped transport). */
  skip(n: number): void
  /** Clears the line. Idempotent. */
  done(): void
}

/** A bar over `total` steps on `stream` if it is a TTY; a silent one otherwise. */
export function progress(total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { step() {}, skip() {}, done() {} }
  const tty = stream as WriteStream
  let finished = -1
  let label = ''
  const t0 = Date.now()
  const draw = () => {
    const width = Math.max(10, Math.min(30, (tty.columns ?? 80) - 50))
    const share = Math.max(0, finished) / total
    const full = Math.round(share * width)
    const line = `${'█'.repeat(full)}${'░'.repeat(width - full)} ${String(Math.round(share * 100)).padStart(3)}%  ${((Date.now() - t0) / 1000).toFixed(0)} s  ${label}`
    tty.write(`\r${line.slice(0, (tty.columns ?? 80) - 1)}\x1b[K`)
  }
  let cleared = false
  return {
    step(next) {
      finished++
      label = next
      draw()
    },
    skip(n) {
      finished += n
      draw()
    },
    done() {
      if (cleared) return
      cleared = true
      tty.write('\r\x1b[K')
    },
  }
}
