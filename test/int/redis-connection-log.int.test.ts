// A worker process whose Redis goes away: one structured warning per connection with the retry state,
// no "[ioredis] Unhandled error event" stack trace per reconnection attempt, and one line per connection
// when Redis is back. The worker runs as the container runs it (entrypoint `worker`, its own process),
// so what ioredis and BullMQ print to stderr is seen too; its Redis is this test's own (killed here).
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platform, uniqueName } from '../platform/context.js';
import { spawnGroup, stopGroup } from '../platform/processes.js';
import { archiveEnv } from '../support/archive.js';
import { pollUntil } from '../support/poll.js';
import { type PrivateRedis, startPrivateRedis } from '../support/private-redis.js';
import { TEST_SEAL_KEYS } from '../support/seal.js';

let redis: PrivateRedis | undefined;
let worker: ChildProcess | undefined;
const lines: string[] = [];

beforeAll(async () => {
  redis = await startPrivateRedis('conn-log');
});
afterAll(async () => {
  // SIGKILL: what is under test is the outage, not the drain (a BullMQ worker that lost its
  // connection can wait its whole 45 s drain budget in a graceful close).
  if (worker) await stopGroup(worker, 'SIGKILL');
  await redis?.stop();
});

const parsed = (from = 0) =>
  lines.slice(from).map((line) => {
    try {
      return JSON.parse(line) as { event?: string; connection?: string; msg?: string };
    } catch {
      return { msg: line };
    }
  });
const events = (event: string, from = 0) => parsed(from).filter((l) => l.event === event);

describe('a worker that loses Redis', () => {
  it('logs the outage once per connection, structured, and its end; never an unhandled error loop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eks-access-conn-log-'));
    const policyFile = join(dir, 'policy.yaml');
    await writeFile(
      policyFile,
      `
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "123456789012"
    connection: { kubeconfig: { path: ${JSON.stringify(platform().kube.adminKubeconfig)} } }
    identityMapping: none
    usernameTemplate: "oidc:{slackUserId}"
    namespaces:
      - name: ${uniqueName('conn')}
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVALS
        levels: [view]
`,
    );
    const url = (redis as PrivateRedis).url;
    // `node --import tsx`, one process (the `tsx` command is a wrapper that starts a second one, which
    // outlived this test when only the wrapper was killed), in a process group that ends whole.
    worker = spawnGroup(process.execPath, ['--import', 'tsx', 'src/bin/entrypoint.ts', 'worker'], {
      env: {
        PATH: process.env['PATH'],
        REDIS_URL: url,
        REDIS_PREFIX: `{${uniqueName('conn')}}`,
        POLICY_FILE: policyFile,
        LOG_LEVEL: 'info',
        METRICS_PORT: '0',
        RECONCILE_INTERVAL: '1h',
        SEAL_KEYS: TEST_SEAL_KEYS,
        ...archiveEnv(platform().aws, uniqueName('conn')),
        AWS_ACCESS_KEY_ID: platform().aws.accessKeyId,
        AWS_SECRET_ACCESS_KEY: platform().aws.secretAccessKey,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [worker.stdout, worker.stderr]) {
      let rest = '';
      stream?.on('data', (chunk: Buffer) => {
        const text = rest + chunk.toString();
        const parts = text.split('\n');
        rest = parts.pop() ?? '';
        lines.push(...parts.filter((l) => l.trim() !== ''));
      });
    }
    await pollUntil(
      'the worker to start',
      async () => parsed(),
      (l) => l.some((x) => x.msg === 'worker started'),
      {
        timeoutMs: 30_000,
      },
    );

    const before = lines.length;
    await redis?.stop();
    await pollUntil(
      'a connection-lost warning',
      async () => events('redis-connection-lost', before),
      (l) => l.length > 0,
      { timeoutMs: 30_000 },
    );
    // Absence can only be shown over a window: ioredis retries every 50 ms … 2 s, so ~8 s of outage
    // is dozens of reconnection attempts per connection.
    await delay(8_000);
    const during = lines.slice(before);
    await redis?.start();
    await pollUntil(
      'the main connection restored',
      async () => events('redis-connection-restored', before),
      (l) => l.some((x) => x.connection === 'main'),
    );

    const all = lines.slice(before);
    if (process.env['SHOW_LINES']) process.stderr.write(`${all.join('\n')}\n`);
    expect(all.join('\n')).not.toMatch(/Unhandled error event|\[ioredis\]/);
    // No stack trace printed outside the log (Node's own warnings aside, the worker writes JSON lines).
    expect(all.filter((l) => /^\s+at /.test(l))).toEqual([]);
    const lost = events('redis-connection-lost', before);
    // One per connection: the shared one and each BullMQ worker's (its blocking duplicates included).
    expect(new Set(lost.map((l) => l.connection)).size).toBe(lost.length);
    expect(lost.length).toBeLessThanOrEqual(6);
    // ~8 s down, six connections: the six warnings and at most a few other lines, not one per attempt.
    expect(during.filter((l) => l.startsWith('{')).length).toBeLessThanOrEqual(12);
  });
});
