// A frozen AWS endpoint (it accepts the TCP connection and never answers) must not hold a revoke or
// reconcile job: every SDK client the cluster connections build has a request timeout, and the call
// fails as `unavailable` (retried by the job) after the SDK's attempts. A local server plays IAM.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsClientOptions, awsTimeouts } from '../../src/adapters/aws/client-options.js';
import { PolicyClusterConnections } from '../../src/adapters/k8s/cluster-connections.js';
import { parseEnv, parsePolicy } from '../../src/config/load.js';
import { systemClock } from '../../src/domain/clock.js';
import { AccessError } from '../../src/domain/errors.js';

let frozen: Server;
const sockets: Socket[] = [];
let accepted = 0;
let endpoint = '';

beforeAll(async () => {
  frozen = createServer((socket) => {
    accepted += 1;
    sockets.push(socket); // read and never answer
  });
  await new Promise<void>((resolve) => frozen.listen(0, '127.0.0.1', resolve));
  const address = frozen.address();
  endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => frozen.close(() => resolve()));
});

describe('AWS client timeouts', () => {
  it('default to 10 s per attempt, from AWS_REQUEST_TIMEOUT when set', () => {
    expect(awsTimeouts(parseEnv({ REDIS_URL: 'redis://127.0.0.1:6379' }))).toEqual({
      requestTimeoutMs: 10_000,
      connectionTimeoutMs: 3_000,
    });
    expect(awsTimeouts({ AWS_REQUEST_TIMEOUT: '1s' })).toEqual({
      requestTimeoutMs: 1_000,
      connectionTimeoutMs: 1_000,
    });
    expect(awsClientOptions({}).retryMode).toBe('adaptive');
    expect(awsClientOptions({}).maxAttempts).toBe(3);
    expect(
      awsClientOptions(parseEnv({ REDIS_URL: 'redis://127.0.0.1:6379', AWS_MAX_ATTEMPTS: '6' })).maxAttempts,
    ).toBe(6);
    expect(() => parseEnv({ REDIS_URL: 'redis://127.0.0.1:6379', AWS_MAX_ATTEMPTS: '0' })).toThrow(
      /AWS_MAX_ATTEMPTS/,
    );
    expect(() => parseEnv({ REDIS_URL: 'redis://127.0.0.1:6379', AWS_REQUEST_TIMEOUT: 'never' })).toThrow(
      /AWS_REQUEST_TIMEOUT/,
    );
  });

  it('make a call to an IAM endpoint that never answers fail as unavailable, in bounded time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eks-access-timeouts-'));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "https://127.0.0.1:1" } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: c, context: { cluster: c, user: u } }]
current-context: c
`,
    );
    const { policy } = parsePolicy(`
levels:
  view: { clusterRole: view, defaultDuration: 1h, maxDuration: 4h }
clusters:
  dev:
    region: eu-west-1
    accountId: "123456789012"
    connection: { kubeconfig: { path: ${JSON.stringify(kubeconfig)} } }
    identityMapping: aws-auth
    namespaces:
      - name: team
        approvers: { users: [U0APPROVER] }
        channel: C0APPROVALS
        levels: [view]
`);
    const env = parseEnv({
      REDIS_URL: 'redis://127.0.0.1:6379',
      AWS_ENDPOINT_URL_IAM: endpoint,
      AWS_ENDPOINT_URL_STS: endpoint,
      AWS_ENDPOINT_URL_EKS: endpoint,
      AWS_REQUEST_TIMEOUT: '1s',
    });
    const connections = new PolicyClusterConnections({
      policy,
      env,
      clock: systemClock,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    });
    const { iam } = await connections.forCluster('dev');
    const started = Date.now();
    const error = await iam.listRoles('/eks-access/dev/').then(
      () => undefined,
      (e: unknown) => e,
    );
    const took = Date.now() - started;
    expect(error).toBeInstanceOf(AccessError);
    expect((error as AccessError).kind).toBe('unavailable');
    expect(accepted).toBeGreaterThanOrEqual(1); // it did connect: the request, not the connection, timed out
    // Three attempts of 1 s each plus the SDK's short jittered backoff; without a timeout: for ever.
    expect(took).toBeGreaterThanOrEqual(1_000);
    expect(took).toBeLessThan(8_000);
  }, 20_000);
});
