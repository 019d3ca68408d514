// Classic mode (RPyC's SlaveService), a layer next to the server on top of the public core.
// The core knows only a reserved name and a hook: loading this module sets the hook
// (Connection.serveClassic), so a connection opened with `classic: true` serves a
// ClassicService of its own. Injected rather than imported by the core, which stays free of
// vm, fs and module loading; src/index.ts loads it, so every build of farside has it.
import { Connection } from '../protocol/connection.ts'
import { ClassicService } from './service.ts'

Connection.serveClassic = (conn) => new ClassicService(conn.closed)

export { upload, download, redirectStdio, type RedirectOptions, type Undo } from './client.ts'
