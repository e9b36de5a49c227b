// The ways a sandbox started with `npm run sandbox` is stopped other than SIGTERM to npm (that one is the
// last step of sandbox.test.ts): Ctrl-C in a terminal, which sends SIGINT to the whole foreground process
// group, so the sandbox gets it from the terminal and again from npm, and must stop once, gracefully; and
// npm killed outright (SIGKILL, which npm cannot forward): the sandbox notices its parent is gone and stops
// the same way. Either way every process that ran under npm ends, and the page and run directory go.
// Before that, a worker killed while the sandbox runs is started again, and that is shown.
import { afterEach, describe, expect, it } from 'vitest';
import { descendants, leftOf, type NpmSandbox, startNpmSandbox } from '../support/npm-sandbox.js';

let sandbox: NpmSandbox | undefined;
afterEach(async () => {
  // Only after a failure: each test stops its sandbox itself.
  await sandbox?.stop();
});

const ways: Array<[string, (npm: number) => void, RegExp]> = [
  ['Ctrl-C: SIGINT to the process group', (npm) => process.kill(-npm, 'SIGINT'), /sandbox: SIGINT: stopping/],
  [
    'SIGKILL to npm',
    (npm) => process.kill(npm, 'SIGKILL'),
    /sandbox: the process that started the sandbox \(\d+\) exited: stopping/,
  ],
];

describe('npm run sandbox, stopped', () => {
  it.each(ways)(
    '%s: a killed worker is started again and shown; then everything stops, once and gracefully',
    async (_, signal, said) => {
      sandbox = startNpmSandbox();
      const { url, runDir } = await sandbox.ready();
      const npm = sandbox.npm.pid as number;
      // A worker that dies is started again, as Kubernetes would, and the sandbox says so; the new one
      // stops with the rest.
      const worker = [...(await descendants(npm))].find(([, c]) => c.includes('src/bin/worker.ts'))?.[0];
      process.kill(worker as number, 'SIGKILL');
      const restarted = await sandbox.printed(
        'the worker restarted',
        /the worker is running again \(pid (\d+)/,
        30_000,
      );
      expect(sandbox.output()).toContain(
        'the worker exited (SIGKILL); restarting it in 1 s, as Kubernetes would',
      );
      const live = await fetch(`${url}live?as=U0000ALICE`).then((r) => r.text());
      expect(live).toContain(`the worker is running again (pid ${restarted}`);
      const tree = await descendants(npm);
      expect(tree.has(Number(restarted))).toBe(true);
      expect([...tree.values()].some((c) => c.includes('kube-apiserver'))).toBe(true);
      signal(npm);
      await sandbox.printed('that it stopped', /(nothing is left running)/, 30_000);
      expect(await leftOf({ tree, runDir, url })).toEqual([]);
      expect(sandbox.output()).toMatch(said);
      // Stopped once: the second copy of the signal (from npm) is not taken for a second Ctrl-C.
      expect(sandbox.output()).not.toContain('killing everything now');
    },
    240_000,
  );
});
