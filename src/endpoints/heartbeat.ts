// The heartbeat default of endpoints whose peer is another process (pipes, IPC, sockets).
import { DEFAULT_HEARTBEAT } from '../protocol/options.ts'
import type { ConnectionOptions } from '../types.ts'

/** `options` with the heartbeat on (15 s) unless it says otherwise. */
export function withHeartbeat<T extends ConnectionOptions>(options: T): T {
  return options.heartbeat === undefined ? { ...options, heartbeat: DEFAULT_HEARTBEAT } : options
}
