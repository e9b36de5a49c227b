// vitest globalSetup of the `int` project: starts the platform once per run (or attaches to one started by
// scripts/platform/up.sh, see cli.ts) and provides its PlatformInfo to every test file via inject().
import { randomBytes } from 'node:crypto';
import { appendFile, readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import type { PlatformInfo } from './info.js';
import { killLeftovers } from './leftovers.js';
import { startPlatform } from './platform.js';
import { RUN_MARKER } from './processes.js';

/**
 * After everything else stopped: fails the run (exit code 1, and a failed step for .ci/run when
 * scripts/test.sh names its file) if a process this run started is still alive, and kills it. A thrown
 * error in a global teardown is only logged by vitest, hence the exit code.
 */
async function nothingLeftRunning(run: string): Promise<void> {
  const left = await killLeftovers(run);
  if (left.length === 0) return;
  console.error(
    `the test run left ${left.length} process(es) running (now killed); every spawn must end with its whole process group:\n` +
      left.map((p) => `  ${p.pid}: ${p.command}`).join('\n'),
  );
  process.exitCode = 1;
  const steps = process.env['EKS_ACCESS_FAILED_STEPS'];
  if (steps) await appendFile(steps, 'processes left running after the tests\n');
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // One seal key ring for every test file of this run (test/support/seal.ts): test files share the
  // API server, so a binding sealed by one file's worker must not look forged to another's reconciler.
  process.env['EKS_ACCESS_TEST_SEAL_KEYS'] ??= `t1:${randomBytes(32).toString('base64')}`;
  // Set before anything starts: workers, the servers and whatever tests spawn inherit or are given it.
  const run = randomBytes(8).toString('hex');
  process.env[RUN_MARKER] = run;
  const attached = process.env['EKS_ACCESS_PLATFORM_INFO'];
  if (attached) {
    const info = JSON.parse(await readFile(attached, 'utf8')) as PlatformInfo;
    project.provide('platform', info);
    project.provide('platformError', undefined);
    return () => nothingLeftRunning(run);
  }
  const started = Date.now();
  try {
    const platform = await startPlatform();
    console.log(
      `test platform up in ${((Date.now() - started) / 1000).toFixed(1)} s (run dir ${platform.info.runDir})`,
    );
    project.provide('platform', platform.info);
    project.provide('platformError', undefined);
    return async () => {
      await platform.stop();
      await nothingLeftRunning(run);
    };
  } catch (error) {
    // Not thrown: that would abort the whole run, unit tests included. Each test that needs the
    // platform fails instead, with this message (see context.ts).
    const message = error instanceof Error ? error.message : String(error);
    console.error(message);
    project.provide('platform', undefined);
    project.provide('platformError', message);
    return () => nothingLeftRunning(run);
  }
}
