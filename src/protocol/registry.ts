// Named exports: the objects a side offers by name (RPyC's registry). A server passes one Registry
// to all its connections, so what one client attaches another can fetch.

/** A name → object map that peers can `fetch` from and `browse`. */
export class Registry {
  #names = new Map<string, unknown>()

  /** Offers `value` under `name`, replacing what was there. */
  export(name: string, value: unknown): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('an export name must be a non-empty string')
    this.#names.set(name, value)
  }

  /** Stops offering `name`; peers that fetched it keep their references. Returns whether it was there. */
  unexport(name: string): boolean {
    return this.#names.delete(name)
  }

  /** The names offered, in the order they were exported. */
  browse(): string[] {
    return [...this.#names.keys()]
  }

  has(name: string): boolean {
    return this.#names.has(name)
  }

  get(name: string): unknown {
    return this.#names.get(name)
  }
}
