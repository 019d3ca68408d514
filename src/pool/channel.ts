// The parent's end of one pool worker's channel, as a Node-style port for connectPort():
// a MessageChannel port for worker_threads, tinypool's TinypoolChannel for child_process.
import { EventEmitter } from 'node:events'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import type { PortLike } from '../transport/message-port.ts'

/** tinypool's channel shape (its TinypoolChannel), so tinypool's types stay out of our own. */
export interface TinypoolChannel {
  onMessage(callback: (message: unknown) => void): void
  postMessage(message: unknown): void
  onClose(): void
}

/** One worker's channel: the port farside connects over, and what goes in the attach task. */
export interface WorkerChannel {
  port: PortLike
  /** The task's own fields (the far end of the port) and tinypool's run options. */
  task: { kind: 'port'; port: MessagePort } | { kind: 'channel' }
  run: { transferList?: MessagePort[]; channel?: TinypoolChannel }
}

/** A channel for `runtime`: a MessagePort moved to the worker thread, or the child's IPC. */
export function workerChannel(runtime: 'worker_threads' | 'child_process'): WorkerChannel {
  if (runtime === 'worker_threads') {
    const { port1, port2 } = new MessageChannel()
    return { port: port1, task: { kind: 'port', port: port2 }, run: { transferList: [port2] } }
  }
  const port = new ChannelPort()
  return { port, task: { kind: 'channel' }, run: { channel: port.channel } }
}

/**
 * tinypool's child_process channel as a port. tinypool hands us the child's send function once
 * it posts the task (onMessage); what we send before that waits here. tinypool says the channel
 * closed (onClose) when it stops the process; the child's messages come through postMessage.
 */
class ChannelPort extends EventEmitter implements PortLike {
  #send: ((m: unknown) => void) | undefined
  #waiting: unknown[] = []
  #closed = false
  readonly channel: TinypoolChannel = {
    onMessage: (send) => {
      this.#send = send
      for (const m of this.#waiting.splice(0)) this.postMessage(m)
    },
    postMessage: (m) => {
      if (!this.#closed) this.emit('message', m)
    },
    onClose: () => this.close(),
  }

  postMessage(value: unknown): void {
    if (this.#closed) return
    if (this.#send === undefined) return void this.#waiting.push(value)
    try {
      this.#send(value)
    } catch {
      // the child is gone: its exit closes the connection with the reason
    }
  }

  /** Stops carrying messages (idempotent); says 'close' once. The process is tinypool's. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#waiting.length = 0
    this.emit('close')
  }
}
