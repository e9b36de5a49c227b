// Every long-running process the tests, the sandbox, the benches and the chaos runs start goes through
// test/platform/processes.ts (spawnGroup/startProcess): a process group of its own that is stopped whole,
// killed when the starter dies, and the test run's marker that the int project's end-of-run check looks
// for (test/platform/leftovers.ts). A bare spawn() is how a worker outlived its test (issue #19).
// Awaited one-shot commands (execFile, spawnSync) end before their caller goes on and stay allowed.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = resolve(fileURLToPath(import.meta.url), '../../..');

/** Where spawn() may be called, and why. */
const ALLOWED: Record<string, string> = {
  'test/platform/processes.ts': 'defines spawnGroup and startProcess',
  'test/platform/cli.ts':
    '`up` starts the platform in the background on purpose, to outlive the command (scripts/platform/up.sh)',
};

function sources(dir: string): string[] {
  return readdirSync(join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(repo, join(e.parentPath, e.name)));
}

describe('processes started by tests, the sandbox, benches and chaos runs', () => {
  it('are started through spawnGroup/startProcess, never a bare spawn or fork', () => {
    const offenders = ['test', 'sandbox', 'bench', 'chaos']
      .flatMap(sources)
      .filter((file) => !(file in ALLOWED))
      .filter((file) => {
        const text = readFileSync(join(repo, file), 'utf8');
        const imported = /import\s*\{([^}]*)\}\s*from\s*'node:child_process'/.exec(text)?.[1] ?? '';
        return /(^|[\s,])(spawn|fork|exec)(\s*[,}]|\s*$|\s+as\s)/m.test(imported.replace(/type\s+\w+/g, ''));
      });
    expect(offenders).toEqual([]);
  });
});
