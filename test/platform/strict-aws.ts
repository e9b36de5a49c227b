// A private ministack that checks what the shared emulators do not: AUTH=true, so every request's SigV4
// signature is verified (presigned query-string URLs included, as STS does for EKS bearer tokens) and IAM
// policies and trust policies are enforced. It serves IAM, STS and EKS for one test file.
//
// Why not moto: moto ignores query-string signatures (it reads the access key from the Authorization
// header only, so a presigned GetCallerIdentity answers as a default identity and a tampered one is not
// refused), and the shared moto pins MOTO_ACCOUNT_ID, so every request lands in one account.
//
// ministack runs through test/platform/ministack-eks-iam.py, so IAM judges EKS's access-entry actions on
// their own resources and with EKS's condition keys, as AWS does.
//
// EKS's UpdateClusterConfig (the authentication-mode switch), which ministack lacks, is added by a layer in
// front of it (eks-access-config.ts): `endpoint` is the layer's, and every request still reaches ministack.
//
// Accounts: the platform's access key is the root of `accountId`; a 12-digit access key id is the root
// of that account (`rootOf('210987654321')`), both with the platform's secret.
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import type { AwsCredentials } from '../../src/adapters/aws/eks-token.js';
import { platform, uniqueName } from './context.js';
import { startEksAccessConfigLayer } from './eks-access-config.js';
import { cacheDir } from './platform.js';
import { freePort, type ManagedProcess, startProcess, waitUntil } from './processes.js';

const EKS_IAM_WRAPPER = join(dirname(fileURLToPath(import.meta.url)), 'ministack-eks-iam.py');

export interface StrictAws {
  endpoint: string;
  region: string;
  accountId: string;
  /** Root credentials of an account (the platform's key for `accountId`). */
  rootOf(accountId: string): { accessKeyId: string; secretAccessKey: string };
  /** An IAM client on this emulator signing with `credentials`. */
  iamAs(credentials: AwsCredentials): IAMClient;
  /**
   * An IAM user with an access key, created by the root of `accountId`; `policy` is an identity policy
   * document (inline) or a managed policy ARN (attached).
   */
  createUser(prefix: string, policy: object | string): Promise<AwsUser>;
  stop(): Promise<void>;
}

export interface AwsUser {
  name: string;
  arn: string;
  credentials: AwsCredentials;
}

/**
 * Without Docker, ministack's CreateCluster leaves the CA empty; with a Docker daemon that answers
 * /version and then fails to start the k3s container, it takes its fallback and reports an endpoint and
 * a (placeholder) CA, as DescribeCluster does for a real cluster. This is that daemon.
 */
async function failingDockerDaemon(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (/^(\/v[\d.]+)?\/version$/.test(req.url ?? '')) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ApiVersion: '1.41', Version: '0.0.0-eks-access-test' }));
      return;
    }
    res.statusCode = 500;
    res.end('{"message":"no containers here"}');
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `tcp://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export async function startStrictAws(name: string): Promise<StrictAws> {
  const { aws, runDir } = platform();
  const python = join(cacheDir(), 'venv', 'bin', 'python3');
  if (!existsSync(join(cacheDir(), 'venv', 'bin', 'ministack'))) {
    throw new Error(`ministack is not installed: run scripts/platform/install.sh`);
  }
  const docker = await failingDockerDaemon();
  const port = await freePort();
  const dataDir = join(runDir, name);
  // ministack with IAM judging EKS's access-entry actions as AWS does (resource ARNs, condition keys).
  const server: ManagedProcess = startProcess(name, python, [EKS_IAM_WRAPPER], {
    logDir: join(runDir, 'logs'),
    cwd: runDir,
    env: {
      ...process.env,
      GATEWAY_PORT: `${port}`,
      BIND_HOST: '127.0.0.1',
      SERVICES: 'sts,iam,eks',
      AUTH: 'true',
      // The root key ministack accepts, and the secret it checks signatures with.
      AWS_ACCESS_KEY_ID: aws.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.secretAccessKey,
      MINISTACK_ACCOUNT_ID: aws.accountId,
      MINISTACK_REGION: aws.region,
      IOT_MTLS_ENABLED: '0',
      SFTP_ENABLED: '0',
      S3_DATA_DIR: join(dataDir, 's3'),
      LOG_LEVEL: 'WARNING',
      DOCKER_HOST: docker.url,
    },
  });
  const emulator = `http://127.0.0.1:${port}`;
  await waitUntil(name, async () => ((await fetch(`${emulator}/_ministack/ready`)).ok ? true : undefined), {
    timeoutMs: 60_000,
    process: server,
  });
  const layer = await startEksAccessConfigLayer(emulator);
  const endpoint = layer.endpoint;
  const rootOf = (accountId: string) => ({
    accessKeyId: accountId === aws.accountId ? aws.accessKeyId : accountId,
    secretAccessKey: aws.secretAccessKey,
  });
  const iamAs = (credentials: AwsCredentials) => new IAMClient({ region: aws.region, endpoint, credentials });
  return {
    endpoint,
    region: aws.region,
    accountId: aws.accountId,
    rootOf,
    iamAs,
    createUser: async (prefix, policy) => {
      const iam = iamAs(rootOf(aws.accountId));
      const name = uniqueName(prefix);
      const created = await iam.send(new CreateUserCommand({ UserName: name }));
      if (typeof policy === 'string') {
        await iam.send(new AttachUserPolicyCommand({ UserName: name, PolicyArn: policy }));
      } else {
        const document = JSON.stringify(policy);
        await iam.send(
          new PutUserPolicyCommand({ UserName: name, PolicyName: 'allow', PolicyDocument: document }),
        );
      }
      const key = (await iam.send(new CreateAccessKeyCommand({ UserName: name }))).AccessKey;
      return {
        name,
        arn: created.User?.Arn ?? '',
        credentials: { accessKeyId: key?.AccessKeyId ?? '', secretAccessKey: key?.SecretAccessKey ?? '' },
      };
    },
    stop: async () => {
      await layer.close();
      await server.stop();
      await docker.close();
    },
  };
}
