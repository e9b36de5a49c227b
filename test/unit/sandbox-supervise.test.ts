// The sandbox restarts a bot or worker that died, as Kubernetes restarts a pod's container, and says so:
// real processes (`sleep`), really killed.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { supervise } from '../../sandbox/supervise.js';
import { startProcess } from '../../test/platform/processes.js';
import { pollUntil } from '../support/poll.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

describe('supervise', () => {
  it('starts a process that was killed again, after its backoff, and reports both', async () => {
    const logDir = await mkdtemp(join(tmpdir(), 'sandbox-supervise-'));
    const lines: string[] = [];
    const supervised = supervise(
      'worker',
      () => startProcess('worker', 'sleep', ['300'], { logDir }),
      (line) => lines.push(line),
      [50, 100],
    );
    cleanup.push(
      () => rm(logDir, { recursive: true, force: true }),
      () => supervised.stop(),
    );
    const first = supervised.current();
    process.kill(first.pid, 'SIGKILL');
    const second = await pollUntil(
      'the worker to run again',
      async () => supervised.current(),
      (p) => p.pid !== first.pid,
      { timeoutMs: 5_000, intervalMs: 20 },
    );
    expect(alive(second.pid)).toBe(true);
    expect(lines[0]).toMatch(
      /^the worker exited \(SIGKILL\); restarting it in 0\.05 s, as Kubernetes would \(restart 1; log /,
    );
    expect(lines[1]).toBe(`the worker is running again (pid ${second.pid}, restart 1)`);

    // The second death in a row waits the next, longer step.
    process.kill(second.pid, 'SIGKILL');
    await pollUntil(
      'a third process',
      async () => supervised.current(),
      (p) => p.pid !== second.pid,
      {
        timeoutMs: 5_000,
        intervalMs: 20,
      },
    );
    expect(lines[2]).toMatch(/restarting it in 0\.1 s.*restart 2/);
  });

  it('does not restart what it was asked to stop', async () => {
    const logDir = await mkdtemp(join(tmpdir(), 'sandbox-supervise-'));
    cleanup.push(() => rm(logDir, { recursive: true, force: true }));
    const lines: string[] = [];
    let starts = 0;
    const supervised = supervise(
      'bot',
      () => {
        starts++;
        return startProcess('bot', 'sleep', ['300'], { logDir });
      },
      (line) => lines.push(line),
      [10],
    );
    const pid = supervised.current().pid;
    await supervised.stop();
    expect(alive(pid)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 100)); // ten backoffs: a restart would have happened
    expect(starts).toBe(1);
    expect(lines).toEqual([]);
  });
});
