// farside: promise-based handles to objects on the far side of a port, pipe or socket.
export { pair, connectPort, acceptPort, type PortConnectOptions } from './endpoints/port.ts'
export type { SharedMemoryOptions } from './transport/shared-memory.ts'
export { worker, type WorkerConnectOptions } from './endpoints/worker.ts'
export { fork, spawn, type ChildOptions, type SpawnOptions } from './endpoints/child.ts'
export { serveParent } from './endpoints/serve-parent.ts'
export { connectStream } from './endpoints/stream.ts'
export { listen, connect, Server, type Address, type ListenOptions, type NetOptions } from './server/listen.ts'
export { Connection, type ConnectionStats } from './protocol/connection.ts'
export { upload, download, redirectStdio, type RedirectOptions, type Undo } from './classic/index.ts'
export { Registry } from './protocol/registry.ts'
export { currentCall, type CallContext } from './protocol/callee.ts'
export { expose } from './protocol/policy.ts'
export { PROTOCOL_VERSION } from './protocol/messages.ts'
export { ref, copy, transfer } from './codec/marks.ts'
export { isRemote, connectionOf, same, get, set, del, has, keys, release, obtain, deliver, buffiter, withOptions } from './helpers/ops.ts'
export {
  FarsideError, RemoteError, ConnectionClosedError, TimeoutError, AbortError, ProtocolError, AccessError,
  AuthenticationError, type CloseInfo,
} from './errors.ts'
export type { Remote, RemotePromise, Settled, Arg, ConnectionOptions, CallOptions, Limits } from './types.ts'
export type { Transport, TransportSink } from './transport/transport.ts'
export type { TraceContext, ConnectionEvent } from './protocol/tracing.ts'
export type { PortLike, WebPortLike } from './transport/message-port.ts'
