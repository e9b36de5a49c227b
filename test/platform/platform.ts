// Starts the whole test platform (Redis, Kubernetes with aws-iam-authenticator, moto, ministack, the AWS
// gateway) in a fresh temporary run directory and returns what tests need to reach it plus a stop function.
// Components start concurrently; anything not installed fails with the command that installs it.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { type Propagation, syncAccessEntries } from './access-entries-sync.js';
import type { RunningAuthorizer } from './access-policy-authorizer.js';
import { startAws } from './aws.js';
import { startAwsGateway } from './aws-gateway.js';
import { assumeRoleGuard } from './iam-propagation.js';
import type { PlatformInfo } from './info.js';
import { startKube, WEBHOOK_CACHE_TTL_SECONDS } from './kube.js';
import { retryOnPortClash, stopAllProcesses } from './processes.js';
import { startRedis } from './redis.js';
import type { WatchLagProxy } from './watch-lag.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export function cacheDir(): string {
  return process.env['EKS_ACCESS_PLATFORM_CACHE'] ?? join(homedir(), '.cache', 'eks-access-platform');
}

/**
 * Where a build script (build-k8s.sh, build-authenticator.sh) keeps what it built for the pinned versions;
 * fails with its hint if that is not built.
 */
async function built(script: string): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('bash', [
      join(repoRoot, 'scripts/platform', script),
      '--check',
    ]);
    return stdout.trim();
  } catch (error) {
    throw new Error(((error as { stderr?: string }).stderr ?? String(error)).trim());
  }
}

/** The EKS cluster the authenticator serves: one per platform (see PlatformInfo.login). */
export const LOGIN_CLUSTER = 'e2e-login';

export interface RunningPlatform {
  info: PlatformInfo;
  stop(): Promise<void>;
}

export interface PlatformOptions {
  /**
   * The name of the login cluster (default LOGIN_CLUSTER): the sandbox (sandbox/) names it after the
   * policy's first cluster, so the DM's `aws eks update-kubeconfig --name <cluster>` works unchanged.
   */
  loginCluster?: string;
}

export async function startPlatform(options: PlatformOptions = {}): Promise<RunningPlatform> {
  const loginCluster = options.loginCluster ?? LOGIN_CLUSTER;
  const runDir = await mkdtemp(join(tmpdir(), 'eks-access-platform-'));
  await mkdir(join(runDir, 'logs'));
  let gateway: Awaited<ReturnType<typeof startAwsGateway>> | undefined;
  let sync: ReturnType<typeof syncAccessEntries> | undefined;
  let watchLag: WatchLagProxy | undefined;
  let authorizer: RunningAuthorizer | undefined;
  const stop = async () => {
    await sync?.stop();
    await watchLag?.close();
    await authorizer?.close();
    await gateway?.close();
    await stopAllProcesses();
    if (process.env['EKS_ACCESS_PLATFORM_KEEP'] !== '1') await rm(runDir, { recursive: true, force: true });
  };
  try {
    const [binDir, authenticator] = await Promise.all([
      built('build-k8s.sh'),
      built('build-authenticator.sh'),
    ]);
    gateway = await startAwsGateway(runDir);
    const propagation = awsPropagation();
    const login = {
      awsAuthLag: propagation,
      binary: authenticator,
      clusterId: loginCluster,
      proxyUrl: gateway.proxyUrl,
      awsCaFile: gateway.caFile,
    };
    const [redis, kube, aws] = await Promise.allSettled([
      retryOnPortClash((track) => startRedis(runDir, track)),
      retryOnPortClash((track) => startKube(runDir, binDir, track, login)),
      retryOnPortClash((track) => startAws(runDir, join(cacheDir(), 'venv'), track)),
    ]);
    if (kube.status === 'fulfilled') authorizer = kube.value.authorizer;
    if (redis.status === 'fulfilled' && kube.status === 'fulfilled' && aws.status === 'fulfilled') {
      const { kube: kubeInfo, dynamicFile } = kube.value;
      watchLag = kube.value.watchLag;
      gateway.route({
        moto: aws.value.iamEndpoint,
        eks: aws.value.eksEndpoint,
        assumeRole: assumeRoleGuard({
          motoEndpoint: aws.value.iamEndpoint,
          platformAccessKeyId: aws.value.accessKeyId,
          propagation,
        }),
      });
      await createLoginCluster(aws.value, loginCluster);
      await gateway.describeClusterAs(loginCluster, { endpoint: kubeInfo.server, caFile: kubeInfo.caFile });
      sync = syncAccessEntries({
        clusterName: loginCluster,
        dynamicFile,
        region: aws.value.region,
        iamEndpoint: aws.value.iamEndpoint,
        eksEndpoint: aws.value.eksEndpoint,
        credentials: { accessKeyId: aws.value.accessKeyId, secretAccessKey: aws.value.secretAccessKey },
        propagation,
      });
      const entries = sync;
      kube.value.authorizer.answerFrom((principalId) => entries.policiesFor(principalId));
      const info: PlatformInfo = {
        redisUrl: redis.value,
        kube: kubeInfo,
        aws: aws.value,
        login: {
          clusterName: loginCluster,
          region: aws.value.region,
          proxyUrl: gateway.proxyUrl,
          caBundle: gateway.caFile,
          stsEndpoint: gateway.stsEndpoint,
          webhookCacheTtlSeconds: WEBHOOK_CACHE_TTL_SECONDS,
          propagation,
          authenticatorLog: join(runDir, 'logs', 'aws-iam-authenticator.log'),
        },
        runDir,
      };
      return { info, stop };
    }
    const failures = [redis, kube, aws].flatMap((r) =>
      r.status === 'rejected' ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : [],
    );
    throw new Error(`the test platform did not start:\n- ${failures.join('\n- ')}`);
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The login cluster in ministack (it accepts CreateCluster without Docker and marks it ACTIVE). */
async function createLoginCluster(aws: PlatformInfo['aws'], name: string): Promise<void> {
  const eks = new EKSClient({
    region: aws.region,
    endpoint: aws.eksEndpoint,
    credentials: { accessKeyId: aws.accessKeyId, secretAccessKey: aws.secretAccessKey },
  });
  try {
    await eks.send(
      new CreateClusterCommand({
        name,
        roleArn: `arn:aws:iam::${aws.accountId}:role/eks-cluster`,
        resourcesVpcConfig: { subnetIds: [] },
        // Both mappings are read, as the authenticator here reads both (access entries first).
        accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
      }),
    );
  } finally {
    eks.destroy();
  }
}

/**
 * How late AWS changes reach their readers, as on AWS: access entries the authenticator ("may take several
 * seconds"), roles and trust policies STS's AssumeRole (IAM is eventually consistent), 1–4 s each, seeded.
 * EKS_ACCESS_PLATFORM_SEED replays a run's delays (every run prints its seed);
 * EKS_ACCESS_PLATFORM_PROPAGATION=off applies changes at once (entries at the next sync pass).
 */
function awsPropagation(): Propagation | undefined {
  if (process.env['EKS_ACCESS_PLATFORM_PROPAGATION'] === 'off') return undefined;
  const seed = Number(process.env['EKS_ACCESS_PLATFORM_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
  console.log(
    `platform: access entries, IAM roles and trusts, and aws-auth propagate in 1-4 s (EKS_ACCESS_PLATFORM_SEED=${seed} replays it)`,
  );
  return { seed, minMs: 1_000, maxMs: 4_000 };
}
