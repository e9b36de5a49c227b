// The end-of-run check of the int project: a process this test run started (it carries the run's marker,
// see RUN_MARKER in processes.ts) that is still alive when the run ends is a leak — it would keep running
// under pid 1 for hours (issue #19: a worker started through the `tsx` wrapper outlived its test).
import { readdir, readFile } from 'node:fs/promises';
import { RUN_MARKER } from './processes.js';

export interface Leftover {
  pid: number;
  command: string;
}

/** Live processes (not zombies) whose environment carries `RUN_MARKER=<run>`, other than this one. */
export async function processesOfRun(run: string): Promise<Leftover[]> {
  const needle = `\0${RUN_MARKER}=${run}\0`;
  const found: Leftover[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const [environ, stat, cmdline] = await Promise.all(
      ['environ', 'stat', 'cmdline'].map((f) => readFile(`/proc/${entry}/${f}`, 'utf8').catch(() => '')),
    );
    // The state follows the parenthesised command name; a zombie has exited and only awaits its parent.
    const state = /\) (\S)/.exec(stat ?? '')?.[1];
    if (!`\0${environ}`.includes(needle) || state === 'Z' || state === undefined) continue;
    found.push({ pid: Number(entry), command: (cmdline ?? '').replaceAll('\0', ' ').trim().slice(0, 200) });
  }
  return found;
}

/**
 * Waits up to `graceMs` for the run's processes to end (a group being stopped exits within moments), then
 * kills what is left, so it does not outlive the run, and returns it: the caller fails the run.
 */
export async function killLeftovers(run: string, graceMs = 5_000): Promise<Leftover[]> {
  const deadline = Date.now() + graceMs;
  let left = await processesOfRun(run);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = await processesOfRun(run);
  }
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  return left;
}
