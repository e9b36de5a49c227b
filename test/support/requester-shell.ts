// A shell as a person at their own machine: their own AWS keys, a clean HOME, the aws CLI (awscli from
// PyPI, in the platform's venv) and kubectl on PATH, and AWS's public host names reached only through
// environment variables (HTTPS_PROXY to the platform's AWS gateway, AWS_CA_BUNDLE for its certificate;
// NO_PROXY keeps the kube-apiserver on 127.0.0.1 direct). Nothing else of the platform leaks in: no
// AWS_ENDPOINT_URL_*, no KUBECONFIG, no region.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { platform } from '../platform/context.js';
import { cacheDir } from '../platform/platform.js';
import { withRunMarker } from '../platform/processes.js';

export interface ShellRun {
  code: number;
  stdout: string;
  stderr: string;
}

export type Shell = (command: string, extraEnv?: Record<string, string>) => Promise<ShellRun>;

export async function personalShell(credentials: {
  accessKeyId: string;
  secretAccessKey: string;
}): Promise<Shell> {
  const info = platform();
  const home = await mkdtemp(join(info.runDir, 'person-'));
  const bin = join(home, 'bin');
  await mkdir(bin);
  await symlink(join(cacheDir(), 'venv', 'bin', 'aws'), join(bin, 'aws'));
  await symlink(info.kube.kubectl, join(bin, 'kubectl'));
  const env = {
    HOME: home,
    PATH: `${bin}:/usr/local/bin:/usr/bin:/bin`,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    HTTPS_PROXY: info.login.proxyUrl,
    NO_PROXY: '127.0.0.1,localhost',
    AWS_CA_BUNDLE: info.login.caBundle,
  };
  return (command, extraEnv = {}) => runShell(command, { ...env, ...extraEnv }, home);
}

/**
 * `bash -c command` with exactly `env` (plus the test run's marker, so a command that hangs on is found
 * at the end of the run) in `cwd`, ended after a minute.
 */
export function runShell(command: string, env: Record<string, string>, cwd: string): Promise<ShellRun> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      ['-c', command],
      { env: withRunMarker(env), cwd, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** stdout of a run that must succeed; otherwise an error showing what the person would have seen. */
export function succeeded(run: ShellRun, what: string): string {
  if (run.code !== 0) throw new Error(`${what} failed (exit ${run.code}):\n${run.stderr}\n${run.stdout}`);
  return run.stdout.trim();
}

/** kubectl's words for a refused login (the authenticator did not map the token). */
export const UNAUTHORIZED = /Unauthorized|must be logged in/;

/**
 * A login refused either way AWS refuses it once a grant ended: IAM no longer lets her assume the personal
 * role (its trust's end passed, or the role is gone: `AccessDenied` on `sts:AssumeRole`, as the AWS gateway
 * enforces it), or the cluster no longer maps the token (`Unauthorized`). Which comes first depends on
 * which change propagated first, as on AWS.
 */
export const LOGIN_REFUSED = /Unauthorized|must be logged in|not authorized to perform: sts:AssumeRole/;
