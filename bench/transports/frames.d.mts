// Types of frames.mjs, for the TypeScript side of the bench.
import type { Readable, Writable } from 'node:stream'

export interface Codec {
  name: string
  encode(message: unknown): Buffer
  decode(body: Buffer): unknown
}
export declare const v8Codec: Codec
export declare const jsonCodec: Codec
export declare function writeFrame(out: Writable, codec: Codec, message: unknown): boolean
export declare function frameReader(codec: Codec, onMessage: (message: unknown) => void): (chunk: Buffer) => void
export declare function answer(message: unknown[]): unknown[]
export declare function serveFrames(input: Readable, output: Writable, codec: Codec): void
