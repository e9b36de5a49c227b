// `npm run sandbox` as a newcomer uses it, in a real headless Chromium (Debian's, driven by playwright-core):
// the sandbox starts its own platform and the unchanged bot and worker with the example policy; on the
// page alice types the request, ana and ben (the example's privileged level needs two approvals) click
// Approve, alice's page shows the DM's commands and her terminal's environment; those commands, run in a
// clean shell, log her in through the real aws-iam-authenticator and `kubectl get pods -n test` works;
// at expiry the same kubeconfig is refused. Ctrl-C (SIGINT) then leaves no process of the run behind.
// Screenshots go to .platform/artifacts/ (docs/img/sandbox.png is one of them).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/poll.js';
import { type ShellRun, succeeded, UNAUTHORIZED } from '../support/requester-shell.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = join(repoRoot, '.platform', 'artifacts');
const ALICE = 'U0000ALICE'; // the example policy's requester
const APPROVERS = ['U0SBANA', 'U0SBBEN']; // the sandbox's members of the example's S0PLATFORM group

let sandbox: ChildProcess | undefined;
let output = '';
let browser: Browser | undefined;

/** What the sandbox printed that matches `pattern` (its first group), once it has printed it. */
function printed(what: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  return pollUntil(
    `the sandbox to print ${what}`,
    async () => {
      if (sandbox?.exitCode !== null) throw new Error(`the sandbox exited early:\n${output}`);
      return pattern.exec(output)?.[1];
    },
    (found) => found !== undefined,
    { timeoutMs, intervalMs: 100 },
  ) as Promise<string>;
}

/** Processes whose command line names `path` (the sandbox's servers all run from its run directory). */
async function processesUsing(path: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(path)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ').slice(0, 160)}`);
  }
  return found;
}

beforeAll(async () => {
  await promisify(execFile)('bash', [join(repoRoot, 'sandbox/ensure-chromium.sh')], { timeout: 600_000 });
  await mkdir(artifacts, { recursive: true });
  // As `npm run sandbox` runs it, in a process group of its own (so afterAll can stop it after a failure).
  sandbox = spawn('bash', [join(repoRoot, 'sandbox/sandbox.sh'), '--port', '0'], {
    cwd: repoRoot,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [sandbox.stdout, sandbox.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      output += chunk;
    });
  }
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
}, 600_000);

afterAll(async () => {
  await browser?.close();
  if (sandbox?.pid !== undefined && sandbox.exitCode === null) {
    // Only after a failure: the test itself stops it with SIGINT and checks what is left.
    process.kill(-sandbox.pid, 'SIGINT');
    await new Promise((r) => sandbox?.once('exit', r));
  }
});

describe('npm run sandbox', () => {
  it('request on the page → two approvals → the DM’s commands work in the requester’s terminal → refused at expiry → Ctrl-C leaves nothing running', async () => {
    const started = Date.now();
    const url = await printed('its page', /sandbox: page: (http:\/\/127\.0\.0\.1:\d+\/)/, 180_000);
    const runDir = await printed('its run directory', /run directory (\S+)\)/, 1_000);
    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 1100 } });
    page.setDefaultTimeout(30_000);
    await page.goto(`${url}?as=${ALICE}`);

    // alice asks, typing the command as in Slack.
    await page.fill('#composer', '/eks-access request test for 2m because demo');
    await page.press('#composer', 'Enter');
    const reply = page.locator('#ephemerals .message', { hasText: 'Requested' });
    const id = /ea-[a-z2-9]{8}/.exec((await reply.textContent()) ?? '')?.[0] as string;
    expect(id).toBeDefined();
    await page.screenshot({ path: join(artifacts, 'sandbox-1-requested.png'), fullPage: true });

    // Each approver switches to themselves and clicks Approve on the approval message.
    for (const [n, approver] of APPROVERS.entries()) {
      await page.click(`a.person[data-id="${approver}"]`);
      const approval = page.locator('#channel-C0APPROVALS .message', { hasText: `Access request ${id}` });
      await approval.locator('button[data-action="approve"]').click();
      await approval.filter({ hasText: n === 0 ? '1 of 2 approvals' : 'Active until' }).waitFor();
    }
    await page.screenshot({ path: join(artifacts, 'sandbox-2-approved.png'), fullPage: true });

    // alice's page: the DM, and her terminal with the commands from it.
    await page.click(`a.person[data-id="${ALICE}"]`);
    await page.locator('#dms .message', { hasText: 'Use it' }).waitFor();
    const commands = ((await page.locator('#terminal pre.commands').textContent()) ?? '')
      .split('\n')
      .filter(Boolean);
    const envFile = ((await page.locator('#env-file').textContent()) ?? '').trim();
    expect(commands[0]).toMatch(/^aws eks update-kubeconfig --name prod-eu /);
    // The terminal that runs the sandbox prints the same commands with the file to source.
    await printed(
      'the DM’s commands',
      /alice's DM has the commands; in a shell:\n {2}source (\S+)\n/,
      30_000,
    );
    expect(output).toContain(`  source ${envFile}\n  ${commands.join('\n  ')}\n`);
    await page.screenshot({ path: join(artifacts, 'sandbox-3-dm.png'), fullPage: true });

    // Her own shell: nothing of this machine's environment, only what the page says to source.
    const home = await mkdtemp(join(tmpdir(), 'sandbox-alice-'));
    const shell = (command: string) =>
      new Promise<ShellRun>((done) => {
        execFile(
          'bash',
          ['-c', `source '${envFile}' && ${command}`],
          { env: { HOME: home, PATH: '/usr/local/bin:/usr/bin:/bin' }, cwd: home, timeout: 60_000 },
          (error, stdout, stderr) =>
            done({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }),
        );
      });
    const outputs: string[] = [];
    for (const command of commands) outputs.push(succeeded(await shell(command), command));
    expect(outputs.at(-1)).toBe('yes');
    const pods = await shell('kubectl get pods -n test');
    expect(pods.code, pods.stderr).toBe(0);
    expect(pods.stderr).toContain('No resources found in test namespace');
    const elsewhere = await shell('kubectl get pods -n default');
    expect(elsewhere.stderr).toMatch(/Forbidden/);

    // Expiry, two minutes after activation: the same kubeconfig, a fresh token each try, is refused.
    const refused = await pollUntil(
      'alice’s kubeconfig to be refused after expiry',
      () => shell('kubectl get pods -n test'),
      (run) => run.code !== 0 && UNAUTHORIZED.test(run.stderr),
      { timeoutMs: 200_000, intervalMs: 1_000 },
    );
    expect(refused.stderr).toMatch(UNAUTHORIZED);
    await page.locator('#dms .message', { hasText: 'Expired' }).waitFor({ timeout: 60_000 });
    await page.screenshot({ path: join(artifacts, 'sandbox-4-expired.png'), fullPage: true });
    await page.close();
    await rm(home, { recursive: true, force: true });

    // Another site open in the same browser cannot drive the sandbox (its Origin is not the page's).
    const forged = await fetch(`${url}command`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: `as=${ALICE}&text=request+test+for+1h+because+forged`,
    });
    expect(forged.status).toBe(403);

    // Ctrl-C: the sandbox stops everything it started and says so.
    const child = sandbox as ChildProcess;
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    process.kill(child.pid as number, 'SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('nothing is left running');
    expect(await processesUsing(runDir)).toEqual([]);
    expect(existsSync(runDir)).toBe(false);
    console.log(`sandbox e2e: ${((Date.now() - started) / 1000).toFixed(0)} s from start to a clean stop`);
  }, 420_000);
});
