// comlink has no "exports" map and its "main" is a UMD build that Node's ESM loader cannot name
// exports of, so the bench imports its ESM files by path; these lend them comlink's own types.
declare module 'comlink/dist/esm/comlink.mjs' {
  export * from 'comlink'
}
declare module 'comlink/dist/esm/node-adapter.mjs' {
  import type { Endpoint } from 'comlink'
  /** Wraps a Node MessagePort (or Worker, or parentPort) as the DOM-style endpoint comlink wants. */
  export default function nodeEndpoint(port: import('node:worker_threads').MessagePort): Endpoint
}
