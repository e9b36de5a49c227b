// The first run of the sandbox on a machine without the test platform: scripts/platform/install.sh (the
// same install `npm test` runs), with a line that shows what it is doing, how long it has taken, and what
// the whole usually costs. Later runs only check the cache (under a second) and install nothing.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from '../test/platform/platform.js';
import { spawnGroup } from '../test/platform/processes.js';

/** Measured (docs/test-platform.md): 7 min 03 s on an idle 2-core machine with empty caches; more under load. */
export const COLD_INSTALL_ESTIMATE = 'usually 7–10 minutes on 2 cores with empty caches, up to 20 under load';

/** What is missing from the platform cache, in words; empty when everything the sandbox runs is built. */
export async function missingPlatformParts(repoRoot: string): Promise<string[]> {
  const missing: string[] = [];
  for (const [script, what] of [
    ['build-k8s.sh', 'kube-apiserver, etcd and kubectl'],
    ['build-authenticator.sh', 'aws-iam-authenticator'],
  ] as const) {
    try {
      await promisify(execFile)('bash', [join(repoRoot, 'scripts/platform', script), '--check']);
    } catch {
      missing.push(what);
    }
  }
  const venv = join(cacheDir(), 'venv', 'bin');
  if (!['moto_server', 'ministack', 'aws'].every((tool) => existsSync(join(venv, tool))))
    missing.push('moto, ministack and the aws CLI (a Python venv)');
  return missing;
}

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/**
 * Runs the platform install, showing its latest step and the time taken (a live line on a terminal,
 * one line per step otherwise). Rejects with the end of its output when it fails.
 */
export async function installPlatform(repoRoot: string, missing: readonly string[]): Promise<void> {
  const out = process.stderr;
  out.write(
    `sandbox: first run on this machine: building the local platform (${missing.join('; ')}).\n` +
      `sandbox: this is done once and cached in ${cacheDir()}; ${COLD_INSTALL_ESTIMATE}.\n`,
  );
  const started = Date.now();
  // A process group of its own that dies with the sandbox (spawnGroup): stopping the sandbox during the
  // build stops the build.
  const child = spawnGroup('bash', [join(repoRoot, 'scripts/platform/install.sh')], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  let step = 'starting';
  const show = () => {
    const line = `sandbox: [${clock(Date.now() - started)}] ${step}`;
    if (out.isTTY) out.write(`\r\u001b[2K${line.slice(0, (out.columns ?? 100) - 1)}`);
  };
  const onLine = (line: string) => {
    tail.push(line);
    if (tail.length > 40) tail.shift();
    // The build scripts announce each step on a line of their own ("install: …", "build-k8s: …").
    if (/^[\w-]+: /.test(line)) {
      step = line;
      if (!out.isTTY) out.write(`sandbox: [${clock(Date.now() - started)}] ${line}\n`);
      show();
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    let buffer = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      buffer += chunk;
      const lines = buffer.split('\n');
      buffer = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
  }
  const ticker = setInterval(show, 1000);
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  clearInterval(ticker);
  if (out.isTTY) out.write('\n');
  if (code !== 0)
    throw new Error(`scripts/platform/install.sh failed (exit ${code}); its last lines:\n${tail.join('\n')}`);
  out.write(`sandbox: platform built in ${clock(Date.now() - started)}\n`);
}
