// Payload scaling: one call that carries N bytes by value each way (`echo(bytes)` returns the
// Uint8Array it was given; no transfer(), so every transport copies), against the raw transport
// carrying the same bytes the same way ([id, bytes] out, [id, bytes] back).
import { interleave, summarize, type Plan, type Summary, type Task } from '../lib/measure.ts'
import type { Row } from './calls.ts'

export interface PayloadSize {
  bytes: number
  label: string
  /** Echoes per slot: enough that a slot is not all timer noise, few for the big sizes. */
  calls: number
  rounds: number
  warmup: number
}

/** Bytes with a pattern, so that the check below sees a wrong or shifted answer. */
function payloadOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + 7) & 255
  return bytes
}

function check(name: string, sent: Uint8Array, got: Uint8Array): void {
  const n = sent.byteLength
  const ok = got instanceof Uint8Array && got.byteLength === n && got[0] === sent[0] && got[n >> 1] === sent[n >> 1] && got[n - 1] === sent[n - 1]
  if (!ok) throw new Error(`${name}: echo of ${n} bytes came back as ${String((got as Uint8Array | undefined)?.byteLength)} bytes or altered`)
}

/** Times `echo` of `size.bytes` for every row that has it; the summaries are against `baseline`. */
export async function payload(rows: Row[], baseline: string, size: PayloadSize, label: string): Promise<Summary[]> {
  const bytes = payloadOf(size.bytes)
  const tasks: Task[] = []
  for (const { name, session } of rows) {
    const echo = session.echo?.bind(session)
    if (echo === undefined) continue
    tasks.push({
      name,
      ops: size.calls,
      async run() {
        for (let i = 0; i < size.calls; i++) check(name, bytes, await echo(bytes))
      },
    })
  }
  const plan: Plan = { rounds: size.rounds, warmup: size.warmup, label: `${label}: ${size.label} payload` }
  return summarize(await interleave(tasks, plan), baseline)
}
