// `npm run sandbox` started as the README tells a newcomer, for the tests that drive or stop it: its output,
// what it printed, and the processes under it (read from /proc, to show that stopping it leaves none).
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnGroup, stopGroup } from '../platform/processes.js';
import { pollUntil } from './poll.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface NpmSandbox {
  /** The `npm` process (its process group is the sandbox's: it is the group leader). */
  npm: ChildProcess;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** What the sandbox printed that matches `pattern` (its first group), once it has printed it. */
  printed(what: string, pattern: RegExp, timeoutMs: number): Promise<string>;
  /** The page's URL and the run directory, once it is up. */
  ready(): Promise<{ url: string; runDir: string }>;
  /** After a failure only: SIGTERM to the whole group, then waits for npm to exit. */
  stop(): Promise<void>;
}

export function startNpmSandbox(): NpmSandbox {
  // In a process group of its own (so stop() can end it after a failure); the tests signal it as they need.
  const npm = spawnGroup('npm', ['run', 'sandbox'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // The sandbox writes to npm's stdout and stderr, which it inherits: they close when both have ended,
  // not when npm has (killed outright, npm goes first).
  let closed = false;
  npm.once('close', () => {
    closed = true;
  });
  for (const stream of [npm.stdout, npm.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      output += chunk;
    });
  }
  const printed = (what: string, pattern: RegExp, timeoutMs: number) =>
    pollUntil(
      `the sandbox to print ${what}`,
      async () => {
        const found = pattern.exec(output)?.[1];
        if (found === undefined && closed) throw new Error(`the sandbox exited early:\n${output}`);
        return found;
      },
      (found) => found !== undefined,
      { timeoutMs, intervalMs: 100 },
    ) as Promise<string>;
  return {
    npm,
    output: () => output,
    printed,
    async ready() {
      const url = await printed('its page', /sandbox: page: (http:\/\/127\.0\.0\.1:\d+\/)/, 180_000);
      const runDir = await printed('its run directory', /run directory (\S+)\)/, 1_000);
      return { url, runDir };
    },
    stop: () => stopGroup(npm, 'SIGTERM', 30_000),
  };
}

/** Every process below `root` (children, theirs, …), from /proc: pid → command line. */
export async function descendants(root: number): Promise<Map<number, string>> {
  const children = new Map<number, number[]>();
  const commands = new Map<number, string>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (!ppid) continue;
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    commands.set(Number(entry), cmdline.replaceAll('\0', ' '));
  }
  const found = new Map<number, string>();
  const walk = (pid: number) => {
    for (const child of children.get(pid) ?? []) {
      found.set(child, commands.get(child) ?? '');
      walk(child);
    }
  };
  walk(root);
  return found;
}

/** Which of `pids` still run (a zombie has exited: it only waits to be reaped). */
async function stillRunning(pids: Map<number, string>): Promise<string[]> {
  const left: string[] = [];
  for (const [pid, command] of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat !== undefined && stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z')
      left.push(`${pid}: ${command.slice(0, 160)}`);
  }
  return left;
}

/** Processes whose command line names `path` (the sandbox's servers all run from its run directory). */
async function processesUsing(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(path)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ').slice(0, 160)}`);
  }
  return found;
}

/**
 * Waits until every process of `tree` has ended (at most 30 s), and returns what still ran then. The
 * sandbox stops its servers one after another, so this takes a few seconds.
 */
function allEnded(tree: Map<number, string>): Promise<string[]> {
  return pollUntil(
    'every process of the sandbox to end',
    () => stillRunning(tree),
    (l) => l.length === 0,
    {
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  ).catch(() => stillRunning(tree));
}

/**
 * What is left of a stopped sandbox, in words (empty: nothing): a process of `tree` (the processes under
 * npm before the stop) still running after 30 s, a process using the run directory, the run directory
 * itself, a page that still answers.
 */
export async function leftOf(stopped: {
  tree: Map<number, string>;
  runDir: string;
  url: string;
}): Promise<string[]> {
  const left = [
    ...(await allEnded(stopped.tree)).map((p) => `still running: ${p}`),
    ...(await processesUsing(stopped.runDir)).map((p) => `using the run directory: ${p}`),
  ];
  if (existsSync(stopped.runDir)) left.push(`the run directory ${stopped.runDir}`);
  const answered = await fetch(stopped.url).then(
    (r) => r.status,
    () => undefined,
  );
  if (answered !== undefined) left.push(`the page ${stopped.url} (HTTP ${answered})`);
  return left;
}
