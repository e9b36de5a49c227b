// The ways a sandbox started with `npm run sandbox` is stopped other than SIGTERM to npm (that one is the
// last step of sandbox.test.ts): Ctrl-C in a terminal, which sends SIGINT to the whole foreground process
// group, so the sandbox gets it from the terminal and again from npm, and must stop once, gracefully; and
// npm killed outright (SIGKILL, which npm cannot forward): the sandbox notices its parent is gone and stops
// the same way. Either way every process that ran under npm ends, and the page and run directory go.
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
    '%s: everything stops, once and gracefully',
    async (_, signal, said) => {
      sandbox = startNpmSandbox();
      const { url, runDir } = await sandbox.ready();
      const npm = sandbox.npm.pid as number;
      const tree = await descendants(npm);
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
