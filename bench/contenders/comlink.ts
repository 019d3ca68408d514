// comlink over a dedicated MessageChannel port, with its node adapter on both ends.
import * as Comlink from 'comlink/dist/esm/comlink.mjs'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import type { Service } from '../fixtures/service.mjs'
import type { Contender, Host, Session } from './contender.ts'

export function comlink(host: Host): Contender {
  return {
    name: 'comlink',
    async start() {
      const { port, close } = await host.open('comlink')
      const remote = Comlink.wrap<Service>(nodeEndpoint(port))
      return {
        add: (a, b) => remote.add(a, b),
        // comlink sends a function by reference only when marked: a MessageChannel per proxy
        callback: () => remote.run(Comlink.proxy((x: number) => x)),
        close,
      } satisfies Session
    },
  }
}
