// The sandbox's stand-in for what Kubernetes does for the bot's and the worker's pods: a process that dies
// is started again, after a backoff, and the sandbox says so (on its page and in its terminal).
import type { ManagedProcess } from '../test/platform/processes.js';

/** A role's process, restarted when it dies. */
export interface Supervised {
  current(): ManagedProcess;
  stop(): Promise<void>;
}

/** Restart delays after an exit, as Kubernetes backs off a crashing container (there: 10 s doubling to 5 min). */
const BACKOFF_MS = [1_000, 2_000, 4_000, 8_000, 16_000, 30_000] as const;
/** A process that ran this long before it died starts the backoff again from its first step. */
const STEADY_MS = 60_000;

/**
 * Runs `start()` and starts it again whenever its process exits, as Kubernetes restarts the container of
 * the bot's or worker's pod: in production a worker that dies (OOM, a node lost, SIGKILL) is back within
 * seconds, and a grant it was activating is picked up by the new one. Each exit and restart is reported.
 */
export function supervise(
  role: string,
  start: () => ManagedProcess,
  report: (line: string) => void,
  backoffMs: readonly number[] = BACKOFF_MS,
): Supervised {
  let current = start();
  let startedAt = Date.now();
  let stopped = false;
  let restarts = 0;
  let streak = 0;
  let timer: NodeJS.Timeout | undefined;
  const watch = (running: ManagedProcess) => {
    void running.exited.then((status) => {
      if (stopped || running !== current) return;
      if (Date.now() - startedAt >= STEADY_MS) streak = 0;
      const delay = backoffMs[Math.min(streak, backoffMs.length - 1)] ?? 1_000;
      streak++;
      restarts++;
      report(
        `the ${role} exited (${status}); restarting it in ${delay / 1000} s, as Kubernetes would (restart ${restarts}; log ${running.logFile})`,
      );
      timer = setTimeout(() => {
        if (stopped) return;
        current = start();
        startedAt = Date.now();
        report(`the ${role} is running again (pid ${current.pid}, restart ${restarts})`);
        watch(current);
      }, delay);
    });
  };
  watch(current);
  return {
    current: () => current,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current.stop();
    },
  };
}
