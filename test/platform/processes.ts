// Child processes of the test platform: each server runs in its own process group with its output in a log
// file, and is killed with its whole group when we stop it, when this process exits, and (through
// PR_SET_PDEATHSIG, via util-linux's setpriv) even when this process is killed without a chance to clean up.
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Exit code or signal once the process has exited, otherwise undefined. */
  exitStatus(): string | undefined;
  /** Resolves with the exit status (as exitStatus) when the process exits, stopped or not. */
  readonly exited: Promise<string>;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
const managed = new Set<ManagedProcess>();
let hooksInstalled = false;

function killGroupNow(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroupNow(child);
  });
  // Only where nobody else (vitest, a CLI) handles the signal: we must not change the host's behaviour.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    if (process.listenerCount(signal) > 0) continue;
    process.once(signal, () => {
      for (const child of live) killGroupNow(child);
      process.kill(process.pid, signal);
    });
  }
}

/**
 * The environment variable that marks every process a test run starts (test/platform/leftovers.ts): the
 * int project's global setup sets it to an id of the run, and every spawn here passes it on even when the
 * caller gives the child an environment of its own, so the end of the run can find what outlived it.
 */
export const RUN_MARKER = 'EKS_ACCESS_TEST_RUN';

/** `env` with this run's marker added (when there is one). */
export function withRunMarker(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const marker = process.env[RUN_MARKER];
  return marker === undefined ? env : { ...env, [RUN_MARKER]: marker };
}

const pdeathsig: string[] = (() => {
  try {
    execFileSync('setpriv', ['--version'], { stdio: 'ignore' });
    return ['setpriv', '--pdeathsig', 'KILL', '--'];
  } catch {
    return [];
  }
})();

export interface StartOptions {
  logDir: string;
  /** Collects the handle, so a caller can stop what a failed start left running. */
  track?: ManagedProcess[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** How stop() asks it to end (default SIGTERM); for a server that catches SIGTERM and keeps serving. */
  stopSignal?: NodeJS.Signals;
}

/**
 * spawn() for a child that must not outlive us: in a process group of its own (so stopGroup reaches
 * whatever it forks, e.g. the tsx loader's esbuild), killed with that group when this process exits, and
 * (PR_SET_PDEATHSIG through setpriv, which execs it: the pid is the command's own) killed by the kernel
 * if this process dies without a chance to clean up. It carries the run marker.
 */
export function spawnGroup(
  command: string,
  args: readonly string[],
  options: Omit<SpawnOptions, 'detached'> = {},
): ChildProcess {
  installExitHooks();
  const [file, ...rest] = [...pdeathsig, command, ...args] as [string, ...string[]];
  const child = spawn(file, rest, {
    ...options,
    detached: true,
    env: withRunMarker(options.env ?? process.env),
  });
  if (child.pid === undefined) return child;
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

/**
 * Ends a child started by spawnGroup with its whole group: `signal` first, SIGKILL after `graceMs`.
 * Resolves once the child has exited (at once if it had).
 */
export async function stopGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid, signal);
  } catch {
    return;
  }
  const killer = setTimeout(() => killGroupNow(child), graceMs);
  await exited;
  clearTimeout(killer);
  // What the leader left behind in its group (a grandchild that ignores `signal`) goes too.
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // The group is empty.
  }
}

export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: StartOptions,
): ManagedProcess {
  const logFile = join(options.logDir, `${name}.log`);
  const fd = openSync(logFile, 'a');
  const child = spawnGroup(command, args, {
    stdio: ['ignore', fd, fd],
    env: options.env ?? process.env,
    cwd: options.cwd ?? options.logDir,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  child.unref();
  const pid = child.pid;
  const exitStatus = () =>
    child.exitCode !== null ? `exit code ${child.exitCode}` : (child.signalCode ?? undefined);
  const handle: ManagedProcess = {
    name,
    pid,
    logFile,
    exitStatus,
    exited: new Promise((resolve) => child.once('exit', () => resolve(exitStatus() ?? 'exited'))),
    stop: async () => {
      child.ref(); // keep the event loop alive until the exit is seen
      await stopGroup(child, options.stopSignal ?? 'SIGTERM');
      managed.delete(handle);
    },
  };
  managed.add(handle);
  options.track?.push(handle);
  return handle;
}

/**
 * Stops every process started through startProcess that is still running, newest first: a server stops
 * before what it depends on (kube-apiserver stalls its shutdown for many seconds when etcd goes first).
 */
export async function stopAllProcesses(): Promise<void> {
  for (const p of [...managed].reverse()) await p.stop();
}

/** The last lines of a log file, for error messages. */
export function logTail(logFile: string, lines = 30): string {
  try {
    return readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const handedOut = new Set<number>();

/**
 * A port on 127.0.0.1 that was free a moment ago (the OS picks it), never the same one twice in this
 * process. Another process can still take it before our server binds it: see retryOnPortClash.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => {
          if (address && typeof address === 'object') resolve(address.port);
          else reject(new Error('no port'));
        });
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/**
 * Runs `start` again (up to 3 times) when a server lost the race for its port to another process;
 * whatever a failed attempt started is stopped first.
 */
export async function retryOnPortClash<T>(start: (track: ManagedProcess[]) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const track: ManagedProcess[] = [];
    try {
      return await start(track);
    } catch (error) {
      for (const p of track.reverse()) await p.stop();
      const clash = /address already in use|is already in use/i.test(String(error));
      if (!clash || attempt >= 3) throw error;
    }
  }
}

/**
 * Polls `probe` until it returns a value (not undefined) or the deadline passes. A process that exits while
 * we wait fails at once, with the end of its log.
 */
export async function waitUntil<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; process?: ManagedProcess },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    const status = options.process?.exitStatus();
    if (options.process && status !== undefined) {
      throw new Error(
        `${options.process.name} exited (${status}) while waiting for ${what}; ` +
          `end of ${options.process.logFile}:\n${logTail(options.process.logFile)}`,
      );
    }
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const log = options.process
        ? `\nend of ${options.process.logFile}:\n${logTail(options.process.logFile)}`
        : '';
      throw new Error(
        `timed out after ${options.timeoutMs} ms waiting for ${what}` +
          (lastError instanceof Error ? ` (last error: ${lastError.message})` : '') +
          log,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
