// Starts the test platform by hand, for development (scripts/platform/up.sh and down.sh call this):
//   tsx test/platform/cli.ts up     start it in the background (once) and print its environment
//   tsx test/platform/cli.ts env    print the environment of the running platform
//   tsx test/platform/cli.ts down   stop it
// With the printed EKS_ACCESS_PLATFORM_INFO exported, `npx vitest run --project int` attaches to the
// running servers instead of starting its own (seconds saved per run; tests use unique names).
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PlatformInfo } from './info.js';
import { startPlatform } from './platform.js';
import { waitUntil } from './processes.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const stateDir = join(repoRoot, '.platform');
const infoFile = join(stateDir, 'platform.json');
const pidFile = join(stateDir, 'platform.pid');
const logFile = join(stateDir, 'platform.log');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function runningPid(): Promise<number | undefined> {
  if (!existsSync(pidFile) || !existsSync(infoFile)) return undefined;
  const pid = Number(await readFile(pidFile, 'utf8'));
  return Number.isInteger(pid) && alive(pid) ? pid : undefined;
}

function envLines(info: PlatformInfo): string {
  // The AWS values are the emulators' placeholder credentials, not secrets.
  const vars: Record<string, string> = {
    EKS_ACCESS_PLATFORM_INFO: infoFile,
    REDIS_URL: info.redisUrl,
    KUBECONFIG: info.kube.adminKubeconfig,
    KUBECTL: info.kube.kubectl,
    AWS_REGION: info.aws.region,
    AWS_ACCESS_KEY_ID: info.aws.accessKeyId,
    AWS_SECRET_ACCESS_KEY: info.aws.secretAccessKey,
    AWS_ENDPOINT_URL_IAM: info.aws.iamEndpoint,
    AWS_ENDPOINT_URL_STS: info.aws.stsEndpoint,
    AWS_ENDPOINT_URL_EKS: info.aws.eksEndpoint,
    AWS_ENDPOINT_URL_S3: info.aws.s3Endpoint,
    ARCHIVE_BUCKET: info.aws.archiveBucket,
    ARCHIVE_PREFIX: 'by-hand/',
  };
  return Object.entries(vars)
    .map(([k, v]) => `export ${k}=${JSON.stringify(v)}`)
    .join('\n');
}

async function serve(): Promise<void> {
  let platform: Awaited<ReturnType<typeof startPlatform>> | undefined;
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await platform?.stop();
    await rm(infoFile, { force: true });
    await rm(pidFile, { force: true });
    process.exit(0);
  };
  // Registered before any server starts, so processes.ts leaves these signals to us.
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.on('SIGHUP', shutdown);
  platform = await startPlatform();
  await writeFile(infoFile, JSON.stringify(platform.info, null, 2));
  await writeFile(pidFile, String(process.pid));
  console.log(`platform up; run dir ${platform.info.runDir}`);
  setInterval(() => {}, 1 << 30); // stay alive until signalled
}

async function up(): Promise<void> {
  if ((await runningPid()) === undefined) {
    await rm(infoFile, { force: true });
    const out = openSync(logFile, 'a');
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), 'serve'], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.unref();
    await waitUntil(
      'the platform (see .platform/platform.log)',
      async () => (existsSync(infoFile) ? true : undefined),
      {
        timeoutMs: 180_000,
      },
    );
  }
  await env();
}

async function env(): Promise<void> {
  if ((await runningPid()) === undefined) throw new Error('no platform running: scripts/platform/up.sh');
  console.log(envLines(JSON.parse(await readFile(infoFile, 'utf8')) as PlatformInfo));
}

async function down(): Promise<void> {
  const pid = await runningPid();
  if (pid === undefined) return;
  process.kill(pid, 'SIGTERM');
  await waitUntil('the platform to stop', async () => (alive(pid) ? undefined : true), { timeoutMs: 30_000 });
}

await mkdir(stateDir, { recursive: true });
const commands: Record<string, () => Promise<void>> = { up, down, env, serve };
const command = commands[process.argv[2] ?? ''];
if (!command) {
  console.error('usage: tsx test/platform/cli.ts up|env|down');
  process.exit(2);
}
await command();
