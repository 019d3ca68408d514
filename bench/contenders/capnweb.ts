// capnweb over a dedicated MessageChannel port (its own MessagePort session, structured clone).
import { newMessagePortRpcSession } from 'capnweb'
import type { Contender, Host, Session } from './contender.ts'

/** The calls the bench makes on capnweb's stub (its RpcStub<T> wants RpcTarget types). */
interface CapService {
  add(a: number, b: number): Promise<number>
  makeNode(value: number): { child(i: number): { value: Promise<number> } }
  run(cb: (x: number) => number): Promise<number>
}

export function capnweb(host: Host): Contender {
  return {
    name: 'capnweb',
    async start() {
      const { port, close } = await host.open('capnweb')
      // Node's MessagePort has the addEventListener/start that capnweb uses; only its type differs
      const stub = newMessagePortRpcSession(port as unknown as Parameters<typeof newMessagePortRpcSession>[0]) as unknown as CapService
      return {
        add: (a, b) => stub.add(a, b),
        // capnweb pipelines too: the three calls leave together
        chain: () => stub.makeNode(1).child(0).value,
        // functions cross by reference without marking
        callback: () => stub.run((x: number) => x),
        close,
      } satisfies Session
    },
  }
}
