// The worker as its own operating-system process, run the way the image runs it (`entrypoint.ts worker`
// with its environment and policy file), so a test can SIGKILL it: no `finally`, no drain, sockets reset
// by the kernel, BullMQ's lock keys left in Redis.
//
// One process, not the `tsx` command: that one starts Node as a child and forwards signals, and SIGKILL
// cannot be forwarded — the worker would outlive the kill. `node --import tsx` runs the TypeScript
// source in the process itself, so no build step can leave it stale. It runs in a process group of its
// own (spawnGroup), killed whole, and dies with the test process whatever happens to that.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnGroup, stopGroup } from '../platform/processes.js';
import { pollUntil } from './poll.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface WorkerProcess {
  pid: number;
  /** SIGKILLs the process; resolves with the moment of the kill once the process is gone. */
  kill(): Promise<number>;
  /** "grant changed" notifications its log notifier announced (no Slack token: the log is the notifier). */
  announced(): { grantId: string; status: string; kind: string }[];
  /** The last lines it wrote (JSON log lines; its logger redacts secrets), for a failure message. */
  tail(): string;
}

interface LogLine {
  msg?: string;
  grantId?: string;
  status?: string;
  event?: string;
}

/**
 * Starts `entrypoint.ts worker` with `env` (on top of PATH and HOME only, so nothing of the test's own
 * environment leaks in) and waits until it logs "worker started" (its queues are being consumed).
 */
export async function startWorkerProcess(
  env: Record<string, string>,
  { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
): Promise<WorkerProcess> {
  const child = spawnGroup(process.execPath, ['--import', 'tsx', 'src/bin/entrypoint.ts', 'worker'], {
    cwd: repo,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '',
      LOG_LEVEL: 'info',
      METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const lines: LogLine[] = [];
  const raw: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts.filter((p) => p.trim() !== '')) {
        raw.push(part);
        if (raw.length > 40) raw.shift();
        try {
          lines.push(JSON.parse(part) as LogLine);
        } catch {
          // Not a log line (a Node warning): kept in the tail only.
        }
      }
    });
  }
  const tail = () => raw.join('\n');
  try {
    await pollUntil(
      `worker process ${child.pid} to start`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`the worker process exited (${child.exitCode ?? child.signalCode}):\n${tail()}`);
        }
        return lines.some((l) => l.msg === 'worker started');
      },
      (started) => started,
      { timeoutMs, intervalMs: 100 },
    );
  } catch (error) {
    await stopGroup(child, 'SIGKILL');
    throw error;
  }
  return {
    pid: child.pid as number,
    async kill() {
      const at = Date.now();
      // Already gone (it crashed on its own): nothing to kill; the moment is still now.
      await stopGroup(child, 'SIGKILL');
      await exited;
      return at;
    },
    announced: () =>
      lines
        .filter((l) => l.msg === 'grant changed' && l.grantId && l.event)
        .map((l) => ({ grantId: l.grantId ?? '', status: l.status ?? '', kind: l.event ?? '' })),
    tail,
  };
}
