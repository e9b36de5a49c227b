import { describe, expect, it } from 'vitest';
import { FreshRead } from '../../src/adapters/k8s/fresh-read.js';

/** A read whose answers the test releases one by one; each answer is the number of the read. */
function controlledRead() {
  const pending: (() => void)[] = [];
  let started = 0;
  const read = () => {
    const n = ++started;
    return new Promise<number>((resolve) => pending.push(() => resolve(n)));
  };
  const release = async () => {
    // Let queued continuations start the next read before releasing.
    await new Promise((r) => setImmediate(r));
    pending.shift()?.();
    await new Promise((r) => setImmediate(r));
  };
  return { read, release, started: () => started };
}

describe('FreshRead: callers share a read made after they asked', () => {
  it('callers in the same moment share one read', async () => {
    const c = controlledRead();
    const fresh = new FreshRead(c.read);
    const answers = Promise.all([fresh.get(), fresh.get(), fresh.get()]);
    await c.release();
    expect(await answers).toEqual([1, 1, 1]);
    expect(c.started()).toBe(1);
  });

  it('a caller arriving while a read is in flight gets the next read, never the older answer', async () => {
    const c = controlledRead();
    const fresh = new FreshRead(c.read);
    const first = fresh.get();
    await new Promise((r) => setImmediate(r)); // read 1 has started
    const later = [fresh.get(), fresh.get()];
    expect(c.started()).toBe(1); // read 2 waits for read 1 to end
    await c.release();
    expect(await first).toBe(1);
    await c.release();
    expect(await Promise.all(later)).toEqual([2, 2]);
    expect(c.started()).toBe(2);
  });

  it('a failed read fails its callers only; the next caller reads again', async () => {
    let calls = 0;
    const fresh = new FreshRead(async () => {
      calls++;
      if (calls === 1) throw new Error('down');
      return calls;
    });
    await expect(Promise.all([fresh.get(), fresh.get()])).rejects.toThrow('down');
    expect(await fresh.get()).toBe(2);
  });
});
