// Where the child processes run. On this 2-core machine a round trip to another process comes in
// two speeds by where the OS puts the two ends: about 22 µs when they share a core and about 70 µs
// when they sit on different cores (the far core wakes from idle for every message). Unpinned, a
// process keeps its mode for a while and two processes often differ, so farside's child and the
// raw child (which cannot be one process: each owns its child's only channel) would differ by luck
// alone, by 3× either way. So for the child-process and socket rows the bench pins this thread to
// CPU 0 and every far process to CPU 1: client and server on different cores, as in a deployment,
// and the same placement for every row. Linux only (taskset, /proc); elsewhere it does nothing and
// says so.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'

const CLIENT_CPU = '0'
const SERVER_CPU = '1'

function taskset(args: string[]): boolean {
  try {
    execFileSync('taskset', args, { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Whether pinning works here: Linux, taskset, at least 2 CPUs. */
export const canPin = process.platform === 'linux' && availableParallelism() >= 2 && taskset(['-p', String(process.pid)])

/** Pins this process's main thread (only: not its workers or helper threads) to the client CPU; returns the undo. */
export function pinClient(): () => void {
  if (!canPin) return () => {}
  const before = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1] ?? '0-1'
  taskset(['-p', '-c', CLIENT_CPU, String(process.pid)])
  return () => void taskset(['-p', '-c', before, String(process.pid)])
}

/** Pins every thread of process `pid` to the server CPU. */
export function pinServer(pid: number): void {
  if (canPin && !taskset(['-a', '-p', '-c', SERVER_CPU, String(pid)])) throw new Error(`could not pin process ${pid}`)
}

/**
 * Pins this thread to the client CPU and the worker threads `tids` (Linux thread ids) to the
 * server CPU; returns the undo. For the shared-memory rows: two threads that wake each other in
 * turn tend to be put on one core by the OS, where polling the ring cannot help (see
 * src/transport/shared-memory.ts), and they stay there or not by luck.
 */
export function pinThreads(tids: readonly (number | undefined)[]): () => void {
  if (!canPin || tids.some((t) => t === undefined)) return () => {}
  const undoClient = pinClient()
  for (const tid of tids) if (!taskset(['-p', '-c', SERVER_CPU, String(tid)])) throw new Error(`could not pin thread ${tid}`)
  return () => {
    for (const tid of tids) taskset(['-p', '-c', `${CLIENT_CPU},${SERVER_CPU}`, String(tid)])
    undoClient()
  }
}

/** This process's child processes (for farside's fork() and spawn(), which do not expose theirs). */
export function childPids(): Set<number> {
  const out = new Set<number>()
  if (process.platform !== 'linux') return out
  for (const tid of readdirSync('/proc/self/task')) {
    let text: string
    try {
      text = readFileSync(`/proc/self/task/${tid}/children`, 'utf8')
    } catch {
      continue
    }
    for (const pid of text.split(' ')) if (pid.trim() !== '') out.add(Number(pid))
  }
  return out
}

/** Starts something that forks one child, and pins the child it started to the server CPU. */
export async function pinnedChild<T>(start: () => Promise<T>): Promise<T> {
  const before = childPids()
  const started = await start()
  const fresh = [...childPids()].filter((pid) => !before.has(pid))
  if (canPin && fresh.length !== 1) throw new Error(`expected one new child process, found ${fresh.length}`)
  for (const pid of fresh) pinServer(pid)
  return started
}

/** What the results say about placement. */
export function placementNote(): string {
  return canPin
    ? `the bench's main thread pinned to CPU ${CLIENT_CPU}, every far process (children, socket host) to CPU ${SERVER_CPU}, and for the shared-memory rows the worker threads too`
    : 'not pinned (no taskset or fewer than 2 CPUs): farside and raw children may differ by placement luck'
}
