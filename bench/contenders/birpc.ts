// birpc over a dedicated MessageChannel port, with its defaults (a 60 s timeout timer per call).
import { createBirpc } from 'birpc'
import type { Contender, Host, Session } from './contender.ts'

export function birpc(host: Host): Contender {
  return {
    name: 'birpc',
    async start() {
      const { port, close } = await host.open('birpc')
      const rpc = createBirpc<{ add(a: number, b: number): number }>({}, {
        post: (data) => port.postMessage(data),
        on: (fn) => port.on('message', fn),
      })
      return {
        add: (a, b) => rpc.add(a, b),
        async close() {
          rpc.$close()
          await close()
        },
      } satisfies Session
    },
  }
}
