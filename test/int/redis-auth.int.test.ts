// Redis is not an open door: a real redis-server run with the ACL the shipped component writes (the
// `default` user off, one password-protected user limited to eks-access's keys and no admin commands)
// and TLS. The processes connect over rediss:// with REDIS_USERNAME, REDIS_PASSWORD and
// REDIS_TLS_CA_FILE, the store and BullMQ work through it, everyone else is refused, and the password
// never reaches a log line.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createLogger } from '../../src/adapters/logger.js';
import { QUEUES } from '../../src/adapters/queue/queues.js';
import { blockingDuplicate } from '../../src/adapters/redis/connection.js';
import { createRuntime } from '../../src/bin/engine-runtime.js';
import { loadPolicyFile, parseEnv } from '../../src/config/load.js';
import { makeCa, makeServingCert } from '../platform/certs.js';
import { platform, uniqueName } from '../platform/context.js';
import { freePort, type ManagedProcess, startProcess, waitUntil } from '../platform/processes.js';
import { archiveEnv } from '../support/archive.js';
import { approvedGrant } from '../support/grants.js';
import { pollUntil } from '../support/poll.js';
import { TEST_SEAL_KEYS } from '../support/seal.js';

/** The ACL file exactly as manifests/components/redis/statefulset.yaml writes it, for `password`. */
function shippedAcl(password: string): string {
  const set = parse(readFileSync('manifests/components/redis/statefulset.yaml', 'utf8'));
  const script: string = set.spec.template.spec.containers[0].args[0];
  const format = /printf '([^']+)'/.exec(script)?.[1];
  if (!format) throw new Error('the Redis component no longer writes its ACL with printf');
  return format.replace('%s', password).replaceAll('\\n', '\n');
}

/** Any valid policy will do: this test is about the connection, not about grants. */
const POLICY = loadPolicyFile('policy.example.yaml');

describe('Redis with an ACL user, a password and TLS', () => {
  const password = randomBytes(24).toString('hex');
  const prefix = `{eks-access}-${uniqueName('t')}`;
  const track: ManagedProcess[] = [];
  let port = 0;
  let caFile = '';

  beforeAll(async () => {
    // Its own redis-server, apart from the platform's (which runs without TLS or ACL).
    const dir = await mkdtemp(join(tmpdir(), 'eks-access-redis-tls-'));
    const ca = await makeCa(dir);
    const serving = await makeServingCert(dir, ca, 'redis', { ips: ['127.0.0.1'], dns: ['localhost'] });
    caFile = ca.certFile;
    const aclFile = join(dir, 'users.acl');
    writeFileSync(aclFile, shippedAcl(password), { mode: 0o600 });
    port = await freePort();
    const server = startProcess(
      'redis-tls',
      'redis-server',
      // biome-ignore format: flag/value pairs read best one per line
      ['--port', '0', '--tls-port', `${port}`, '--bind', '127.0.0.1',
        '--tls-cert-file', serving.certFile, '--tls-key-file', serving.keyFile, '--tls-ca-cert-file', ca.certFile,
        '--tls-auth-clients', 'no', '--aclfile', aclFile, '--save', '', '--appendonly', 'no',
        '--maxmemory-policy', 'noeviction', '--dir', dir],
      { logDir: dir, track },
    );
    track.push(server);
    await waitUntil(
      'redis-server with TLS to answer the ACL user',
      async () => {
        const probe = new Redis(`rediss://127.0.0.1:${port}`, {
          username: 'eks-access',
          password,
          tls: { ca: readFileSync(caFile) },
          lazyConnect: true,
          maxRetriesPerRequest: 0,
          retryStrategy: () => null,
        });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          return (await probe.ping()) === 'PONG' ? true : undefined;
        } catch {
          return undefined;
        } finally {
          probe.disconnect();
        }
      },
      { timeoutMs: 20_000, process: server },
    );
  });
  afterAll(async () => {
    await Promise.all(track.map((p) => p.stop()));
  });

  it('serves the store and the job queue to eks-access over rediss://, and never logs the password', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const env = parseEnv({
      REDIS_URL: `rediss://127.0.0.1:${port}`,
      REDIS_USERNAME: 'eks-access',
      REDIS_PASSWORD: password,
      REDIS_TLS_CA_FILE: caFile,
      REDIS_PREFIX: prefix,
      SEAL_KEYS: TEST_SEAL_KEYS,
      ...archiveEnv(platform().aws, prefix),
      LOG_LEVEL: 'debug',
    });
    const logger = createLogger({ level: 'debug', name: 'redis-auth', destination });
    const runtime = await createRuntime(env, { role: 'bot', loaded: POLICY, logger });
    const seen: string[] = [];
    const worker = new Worker(
      QUEUES.activate,
      async (job) => {
        seen.push(String(job.data.grantId));
      },
      { connection: blockingDuplicate(runtime.redis), prefix },
    );
    try {
      const now = Date.now();
      const grant = approvedGrant({
        requester: {
          slackUserId: 'U0REDIS',
          principalArn: 'arn:aws:iam::111122223333:user/redis',
          kubernetesUsername: 'oidc:redis',
        },
        cluster: 'dev',
        namespace: 'test',
        level: 'view',
        durationSeconds: 3600,
        reason: 'redis auth test',
        now,
      });
      await runtime.store.create(grant);
      expect((await runtime.store.get(grant.id))?.status).toBe('approved');
      await runtime.scheduler.enqueueActivation(grant.id);
      await pollUntil(
        'the worker to take the job',
        async () => seen,
        (s) => s.includes(grant.id),
        { timeoutMs: 30_000 },
      );
      logger.info({ env }, 'started with this environment');
      logger.error(
        { err: new Error(`lost ${env.REDIS_URL.replace('://', `://eks-access:${password}@`)}`) },
        'x',
      );
    } finally {
      await worker.close();
      await runtime.close();
    }
    const log = lines.join('');
    expect(log).toContain('started with this environment');
    expect(log).not.toContain(password);
  });

  it('refuses everyone else: no password, a wrong one, the default user, keys outside eks-access, admin commands', async () => {
    const tls = { ca: readFileSync(caFile) };
    // The server's own answer (NOAUTH, WRONGPASS, NOPERM) is the assertion: ioredis reports a refused
    // handshake (HELLO) as an error event and then closes, so both are collected.
    const attempt = async (options: Record<string, unknown>, command: (r: Redis) => Promise<unknown>) => {
      const events: string[] = [];
      const redis = new Redis(`rediss://127.0.0.1:${port}`, {
        tls,
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
        ...options,
      });
      redis.on('error', (error: Error) => events.push(error.message));
      try {
        await redis.connect().catch(() => undefined);
        await command(redis);
        return 'ok';
      } catch (error) {
        return [...events, (error as Error).message].join(' | ');
      } finally {
        redis.disconnect();
      }
    };
    // The default user is off: without credentials nothing is allowed, not even a read.
    expect(await attempt({}, (r) => r.get(`${prefix}grant:x`))).toMatch(/NOAUTH/);
    expect(await attempt({ username: 'eks-access', password: 'wrong' }, (r) => r.ping())).toMatch(
      /WRONGPASS/,
    );
    // requirepass-style (default user with the right password) does not work either.
    expect(await attempt({ password }, (r) => r.ping())).toMatch(/WRONGPASS/);
    const ours = { username: 'eks-access', password };
    expect(await attempt(ours, (r) => r.set(`${prefix}probe`, '1'))).toBe('ok');
    expect(await attempt(ours, (r) => r.set('someone-else:key', '1'))).toMatch(/NOPERM/);
    expect(await attempt(ours, (r) => r.config('GET', 'requirepass'))).toMatch(/NOPERM/);
    expect(await attempt(ours, (r) => r.flushall())).toMatch(/NOPERM/);
    expect(await attempt(ours, (r) => r.call('ACL', 'LIST'))).toMatch(/NOPERM/);
    // Plain TCP to the TLS port is not Redis at all.
    const plain = new Redis(`redis://127.0.0.1:${port}`, {
      ...ours,
      lazyConnect: true,
      connectTimeout: 2_000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    plain.on('error', () => undefined);
    await expect(plain.connect().then(() => plain.ping())).rejects.toBeDefined();
    plain.disconnect();
  });
});
