// Concurrent callers that each need "a read made after I asked" share one: a call joins the next read
// that has not started yet, or starts one. A burst of activations then reads (and parses) a large
// object once per round trip instead of once per grant, and no caller gets an answer older than its
// own call, so what it wrote before asking is in it.
export class FreshRead<T> {
  readonly #read: () => Promise<T>;
  #inFlight: Promise<unknown> | undefined;
  #next: Promise<T> | undefined;

  constructor(read: () => Promise<T>) {
    this.#read = read;
  }

  get(): Promise<T> {
    if (this.#next) return this.#next;
    const before = this.#inFlight ?? Promise.resolve();
    const next = before
      .catch(() => undefined)
      .then(() => {
        // From here on this read has started: later callers must wait for the one after it.
        if (this.#next === next) this.#next = undefined;
        return this.#read();
      });
    this.#next = next;
    const tracked = next.then(
      () => undefined,
      () => undefined,
    );
    this.#inFlight = tracked;
    void tracked.then(() => {
      if (this.#inFlight === tracked) this.#inFlight = undefined;
    });
    return next;
  }
}

/** One FreshRead per key (e.g. per namespace and Role name). */
export class FreshReads<T> {
  readonly #reads = new Map<string, FreshRead<T>>();

  get(key: string, read: () => Promise<T>): Promise<T> {
    let fresh = this.#reads.get(key);
    if (!fresh) {
      fresh = new FreshRead(read);
      this.#reads.set(key, fresh);
    }
    return fresh.get();
  }
}
