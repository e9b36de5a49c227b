// vitest globalSetup of the `int` project: starts the platform once per run (or attaches to one started by
// scripts/platform/up.sh, see cli.ts) and provides its PlatformInfo to every test file via inject().
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import type { PlatformInfo } from './info.js';
import { startPlatform } from './platform.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // One seal key ring for every test file of this run (test/support/seal.ts): test files share the
  // API server, so a binding sealed by one file's worker must not look forged to another's reconciler.
  process.env['EKS_ACCESS_TEST_SEAL_KEYS'] ??= `t1:${randomBytes(32).toString('base64')}`;
  const attached = process.env['EKS_ACCESS_PLATFORM_INFO'];
  if (attached) {
    const info = JSON.parse(await readFile(attached, 'utf8')) as PlatformInfo;
    project.provide('platform', info);
    project.provide('platformError', undefined);
    return async () => {};
  }
  const started = Date.now();
  try {
    const platform = await startPlatform();
    console.log(
      `test platform up in ${((Date.now() - started) / 1000).toFixed(1)} s (run dir ${platform.info.runDir})`,
    );
    project.provide('platform', platform.info);
    project.provide('platformError', undefined);
    return platform.stop;
  } catch (error) {
    // Not thrown: that would abort the whole run, unit tests included. Each test that needs the
    // platform fails instead, with this message (see context.ts).
    const message = error instanceof Error ? error.message : String(error);
    console.error(message);
    project.provide('platform', undefined);
    project.provide('platformError', message);
    return async () => {};
  }
}
